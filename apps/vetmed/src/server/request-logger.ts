import type { Logger } from 'pino';

/**
 * The logger of one request: `log` with the request ID bound, made only when something logs through
 * it. Most requests log one line, their access line, which the server writes on `log` itself with the
 * ID in it; a pino child per request (its bindings serialised, an object chain made) was a visible part
 * of a served call's CPU for a logger nothing else used.
 */
export function requestLogger(log: Logger, requestId: string): Logger {
  let child: Logger | undefined;
  const bound = (): Logger => {
    if (child === undefined) child = log.child({ requestId });
    return child;
  };
  return new Proxy(log, {
    get(_target, property) {
      const target = bound();
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, property, value) {
      return Reflect.set(bound(), property, value);
    },
  });
}
