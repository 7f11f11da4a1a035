import { Link, usePath } from '../routing/router.js';

/** The household's pages, the current one marked for screen readers. */
export function HouseholdNav({ householdId }: { householdId: string }) {
  const path = usePath();
  const base = `/households/${householdId}`;
  const links: Array<[string, string]> = [
    [base, 'Animals and members'],
    [`${base}/inventory`, 'Inventory'],
    [`${base}/reports`, 'Reports'],
    [`${base}/import`, 'Import doses'],
  ];
  return (
    <nav aria-label="Household" className="subnav">
      {links.map(([to, label]) => (
        <Link key={to} to={to} aria-current={path === to ? 'page' : undefined}>
          {label}
        </Link>
      ))}
    </nav>
  );
}
