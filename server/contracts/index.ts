export * from './bot';
export * from './campaigns';
export * from './common';
export * from './conversations';
export * from './crm';
export * from './keys';
export * from './leads';
export * from './stats';
