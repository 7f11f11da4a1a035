/** "1", "2.5", "0.125": a numeric column's text without its trailing zeros. */
export function formatAmount(amount: string | number | null | undefined): string {
  if (amount === null || amount === undefined) return '';
  const number = Number(amount);
  return Number.isFinite(number) ? String(Number(number.toFixed(4))) : String(amount);
}

/** "14:05". */
export function formatTime(time: Date): string {
  return time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** "3 Dec, 14:05" (with the year when it is not this year). */
export function formatDateTime(time: Date): string {
  const sameYear = time.getFullYear() === new Date().getFullYear();
  return time.toLocaleString([], {
    day: 'numeric',
    month: 'short',
    ...(sameYear ? {} : { year: 'numeric' }),
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** How often a regimen's dose is due, in words. */
export function describeSchedule(regimen: {
  scheduleKind: string;
  timesPerDay: number | null;
  intervalHours: number | null;
  scheduleCron: string | null;
}): string {
  switch (regimen.scheduleKind) {
    case 'times_per_day':
      return regimen.timesPerDay === 1 ? 'once a day' : `${regimen.timesPerDay} times a day`;
    case 'interval_hours':
      return `every ${regimen.intervalHours} hours`;
    case 'cron':
      return `on a schedule (${regimen.scheduleCron})`;
    default:
      return 'as needed';
  }
}
