import { describeAppContract } from './app/app-contract.js';

// PGlite is one in-process connection: the connection-count checks do not apply, the rest does.
describeAppContract('embedded PGlite (in memory)', () => ({ env: { PGLITE_DATA_DIR: 'memory://' } }));
