import { QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { lazy, type ReactNode, Suspense, useState } from 'react';
import { useSession } from './api/session.js';
import { createApiClient, createAppQueryClient, TRPCProvider } from './api/trpc.js';
import { StatusBanner } from './components/status-banner.js';
import { PendingDoseSender } from './doses/pending-dose-sender.js';
import { AnimalPage } from './pages/animal-page.js';
import { HouseholdPage } from './pages/household-page.js';
import { HouseholdsPage } from './pages/households-page.js';
import { ImportPage } from './pages/import-page.js';
import { InventoryPage } from './pages/inventory-page.js';
import { NotFoundPage } from './pages/not-found-page.js';
import { ReportsPage } from './pages/reports-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { SignOutButton } from './pages/sign-out-button.js';
import { SignUpPage } from './pages/sign-up-page.js';
import { Link, matchPath, navigate, usePath } from './routing/router.js';

// The dashboard (and its chart library) loads only for the operators who open it.
const DashboardPage = lazy(() =>
  import('./dashboard/dashboard-page.js').then((module) => ({ default: module.DashboardPage })),
);

/** The pages of a signed-in person, by path. */
const pages: Array<[pattern: string, render: (params: Record<string, string>) => ReactNode]> = [
  ['/', () => <HouseholdsPage />],
  ['/households/:householdId', ({ householdId }) => <HouseholdPage householdId={householdId!} />],
  ['/households/:householdId/inventory', ({ householdId }) => <InventoryPage householdId={householdId!} />],
  ['/households/:householdId/reports', ({ householdId }) => <ReportsPage householdId={householdId!} />],
  ['/households/:householdId/import', ({ householdId }) => <ImportPage householdId={householdId!} />],
  ['/animals/:animalId', ({ animalId }) => <AnimalPage animalId={animalId!} />],
];

function Routes() {
  const path = usePath();
  const session = useSession();
  // The dashboard is for operators (the admin token), signed in or not.
  if (path === '/dashboard')
    return (
      <Suspense fallback={<p className="loading">Loading the dashboard…</p>}>
        <DashboardPage />
      </Suspense>
    );
  if (!session) {
    if (path === '/sign-up') return <SignUpPage />;
    return <SignInPage />;
  }
  if (path === '/sign-in' || path === '/sign-up') {
    queueMicrotask(() => navigate('/', { replace: true }));
    return null;
  }
  for (const [pattern, render] of pages) {
    const params = matchPath(pattern, path);
    if (params) return render(params);
  }
  return <NotFoundPage />;
}

function Header() {
  const session = useSession();
  const queryClient = useQueryClient();
  return (
    <header className="app-header">
      <Link to="/" className="brand">
        VetMed
      </Link>
      <nav aria-label="Main">
        {session && <Link to="/">Households</Link>}
        <Link to="/dashboard">Operator dashboard</Link>
      </nav>
      {session && (
        <div className="header-user">
          <span>{session.user.name}</span>
          <SignOutButton onSignedOut={() => queryClient.clear()} />
        </div>
      )}
    </header>
  );
}

export function App() {
  const [queryClient] = useState(createAppQueryClient);
  const [trpcClient] = useState(createApiClient);
  const session = useSession();
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Header />
        <StatusBanner />
        <main className="app-main">
          <Routes />
        </main>
        {session && <PendingDoseSender userId={session.user.id} />}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
