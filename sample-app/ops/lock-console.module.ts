import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { RedlockConsoleModule } from 'nestjs-redlock';

/**
 * Lets through requests that carry the token of `LOCK_CONSOLE_TOKEN` (as `?token=` or
 * `Authorization: Bearer`). Without the variable nobody gets in: the console is closed.
 */
@Injectable()
export class ConsoleTokenGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.get<string>('LOCK_CONSOLE_TOKEN');
    if (!expected) return false;
    const request = context.switchToHttp().getRequest<{
      query: { token?: unknown };
      headers: { authorization?: string };
      user?: unknown;
    }>();
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const given = typeof request.query.token === 'string' ? request.query.token : bearer;
    if (!given || !sameText(given, expected)) return false;
    // The console attributes force releases to request.user.
    request.user = { name: 'console-token' };
    return true;
  }
}

/** Compares in constant time, so response timing does not reveal the token. */
function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The lock console at /ops/locks, behind the token guard. */
export const LockConsoleModule = RedlockConsoleModule.register({
  path: 'ops/locks',
  guard: ConsoleTokenGuard,
  imports: [ConfigModule],
});
