export * from './auth';
export * from './campaigns';
export * from './contacts';
export * from './conversations';
export * from './crm';
export * from './events';
export * from './throttle';
