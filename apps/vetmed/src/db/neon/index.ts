export { cancelRunningQuery, safeguardNeonPool } from './client.js';
export { createNeonDatabase } from './driver.js';
