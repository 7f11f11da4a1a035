/**
 * Thrown before any server starts when this process runs as root and the unprivileged `postgres`
 * user, which the server must run as, cannot reach the PostgreSQL binaries. A checkout under a closed
 * directory (root's home, a `mktemp -d` directory) is handled by mirroring the binaries into the temp
 * directory; this error means the temp directory itself is closed to other users (a private TMPDIR).
 */
export class BinariesUnreachableError extends Error {
  override readonly name = 'BinariesUnreachableError' as const;
  /** The first directory on the path that other users cannot enter. */
  readonly directory: string;

  constructor(directory: string, mode: number) {
    super(
      'test-postgres runs PostgreSQL as the unprivileged `postgres` user because this process is root, ' +
        `and that user cannot enter ${directory} (mode ${(mode & 0o777).toString(8).padStart(4, '0')}) ` +
        'on the way to the PostgreSQL binaries, not even to the copy made in the temp directory. Let ' +
        'others enter it (`chmod o+x` on that directory), set TMPDIR to a directory others can enter, ' +
        'or point TEST_DATABASE_URL at a server of your own.',
    );
    this.directory = directory;
  }
}
