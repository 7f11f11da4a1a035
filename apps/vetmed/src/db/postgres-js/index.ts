export { safeguardPostgresJs } from './client.js';
export { createPostgresJsDatabase } from './driver.js';
