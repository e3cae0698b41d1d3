/**
 * Every zod contract of the server: the same schemas the API validates its inputs and outputs with, so forms
 * can check a value before sending it. The contracts import zod only. A form that needs one router's
 * contracts imports `@whatsapp-crm/sdk/contracts/<router>` instead and leaves the others out of its bundle.
 */
export * from '../../../server/contracts';
