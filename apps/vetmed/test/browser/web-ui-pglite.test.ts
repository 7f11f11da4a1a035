import { describeWebUi } from './web-ui-suite.js';

describeWebUi('embedded PGlite (in memory)', () => ({
  env: { PGLITE_DATA_DIR: 'memory://' },
  burstSlots: 1,
}));
