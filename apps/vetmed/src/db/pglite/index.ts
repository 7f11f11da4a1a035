export { safeguardPglite } from './client.js';
export { createPgliteDatabase } from './driver.js';
