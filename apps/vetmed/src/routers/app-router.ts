import { router } from '../trpc/init.js';
import { administrationsRouter } from './administrations.js';
import { animalsRouter } from './animals.js';
import { authRouter } from './auth.js';
import { householdsRouter } from './households.js';
import { importsRouter } from './imports.js';
import { inventoryRouter } from './inventory.js';
import { invitationsRouter } from './invitations.js';
import { medicationsRouter } from './medications.js';
import { regimensRouter } from './regimens.js';
import { reportsRouter } from './reports.js';

/** The whole API at `/api/trpc`. Its type is what clients import. */
export const appRouter = router({
  auth: authRouter,
  households: householdsRouter,
  invitations: invitationsRouter,
  animals: animalsRouter,
  medications: medicationsRouter,
  regimens: regimensRouter,
  administrations: administrationsRouter,
  inventory: inventoryRouter,
  reports: reportsRouter,
  imports: importsRouter,
});

export type AppRouter = typeof appRouter;
