import { describeWebUi } from './web-ui-suite.js';

// PGlite also runs the tests of the client alone (lost answers, invalid input, the household's pages).
describeWebUi(
  'embedded PGlite (in memory)',
  () => ({ env: { PGLITE_DATA_DIR: 'memory://' }, burstSlots: 1 }),
  {
    clientTests: true,
  },
);
