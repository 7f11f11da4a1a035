import { useAppStatus } from '../api/app-status.js';

/** The app-wide notice: read-only, recovering, or showing saved data. */
export function StatusBanner() {
  const notice = useAppStatus();
  if (!notice) return null;
  return (
    <div className={`banner banner-${notice.kind}`} role="status">
      {notice.message}
    </div>
  );
}
