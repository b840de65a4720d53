// One SSH connection to an appliance (ssh2): host key check against known_hosts, key/agent/
// password authentication, remote commands with a timeout, SFTP upload with progress.
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, ClientChannel, ParsedKey, SFTPWrapper } from 'ssh2';
import { DeployError, oneLine } from './errors.ts';
import { appendKnownHost, loadKnownHosts } from './known-hosts-file.ts';
import {
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  knownHostsName,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from './known-hosts.ts';

// ssh2 is CommonJS: its named exports are only reachable through the default export.
const { Client, utils } = ssh2;

export interface Credentials {
  /** A parsed private key (from --identity), or null. */
  readonly privateKey: ParsedKey | null;
  /** ssh-agent socket (SSH_AUTH_SOCK), or null. */
  readonly agentSocket: string | null;
  /** Asks for a password on the terminal; null when there is no terminal. */
  readonly askPassword: ((question: string) => Promise<string>) | null;
}

export interface ConnectRequest {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly label: string;
  readonly credentials: Credentials;
  readonly knownHostsFile: string;
  readonly acceptNew: boolean;
  readonly connectTimeoutMs: number;
  readonly note: (line: string) => void;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RemoteSession {
  exec(command: string, what: string, timeoutMs: number): Promise<ExecResult>;
  upload(localFile: string, remoteFile: string, onProgress: (done: number, total: number) => void): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  readonly alive: boolean;
  close(): void;
}

/** Reads a private key; an encrypted key asks for its passphrase when a terminal is there. */
export async function parsePrivateKey(
  data: Buffer,
  source: string,
  askPassphrase: ((question: string) => Promise<string>) | null,
): Promise<ParsedKey> {
  let parsed = utils.parseKey(data);
  if (parsed instanceof Error && /encrypted|passphrase/i.test(parsed.message)) {
    if (askPassphrase === null)
      throw new DeployError(
        `${source} is encrypted and there is no terminal to ask for its passphrase (use ssh-agent)`,
      );
    parsed = utils.parseKey(data, await askPassphrase(`Passphrase for ${source}: `));
  }
  if (parsed instanceof Error) throw new DeployError(`cannot use the key ${source}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) throw new DeployError(`${source} holds no private key`);
  return key;
}

/** Host key refusal messages; a changed key is shouted because it may be an attack. */
function changedKeyMessage(label: string, file: string, lines: readonly number[], fingerprint: string): string {
  return (
    `HOST KEY CHANGED for ${label}: it now presents ${fingerprint}, which does not match ${file} line ${lines.join(',')}. ` +
    'This may be a man-in-the-middle attack; refusing. If the appliance was reinstalled, remove the old line and verify the new key.'
  );
}

export function openSession(request: ConnectRequest): Promise<RemoteSession> {
  const knownHosts = loadKnownHosts(request.knownHostsFile);
  for (const note of knownHosts.notes) request.note(`note: ${note}`);
  const client = new Client();
  let hostKeyRefusal: string | null = null;
  const tried: string[] = [];

  const hostVerifier = (key: Buffer): boolean => {
    const fingerprint = fingerprintSha256(key);
    const verdict = verifyHostKey(knownHosts, request.host, request.port, key);
    switch (verdict.kind) {
      case 'known':
        return true;
      case 'revoked':
        hostKeyRefusal = `the host key of ${request.label} (${fingerprint}) is marked @revoked in ${request.knownHostsFile} line ${verdict.line}; refusing`;
        return false;
      case 'changed':
        hostKeyRefusal = changedKeyMessage(request.label, request.knownHostsFile, verdict.lines, fingerprint);
        return false;
      case 'unknown': {
        const others =
          verdict.otherKeyTypes.length > 0
            ? ` (keys of other types are known: ${verdict.otherKeyTypes.join(', ')})`
            : '';
        if (!request.acceptNew) {
          hostKeyRefusal =
            `unknown host key for ${knownHostsName(request.host, request.port)}: ${keyTypeOfBlob(key)} ${fingerprint}${others}; ` +
            `check it on the appliance (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and run again with --accept-new to record it in ${request.knownHostsFile}`;
          return false;
        }
        try {
          appendKnownHost(request.knownHostsFile, formatKnownHostsLine(request.host, request.port, key));
        } catch (error) {
          hostKeyRefusal = oneLine(error);
          return false;
        }
        request.note(
          `recorded new host key ${keyTypeOfBlob(key)} ${fingerprint} for ${knownHostsName(request.host, request.port)} in ${request.knownHostsFile}${others}`,
        );
        return true;
      }
    }
  };

  // Methods in order: key file, agent, then password/keyboard-interactive from the terminal.
  const plan: AuthenticationType[] = [];
  if (request.credentials.privateKey) plan.push('publickey');
  if (request.credentials.agentSocket) plan.push('agent');
  if (request.credentials.askPassword) plan.push('keyboard-interactive', 'password');
  // Our own handshake timer instead of ssh2's readyTimeout: it must stand still while a
  // person types a password.
  let handshakeTimer: NodeJS.Timeout | null = null;
  let timedOut = false;
  const timeoutReason = `no SSH handshake within ${request.connectTimeoutMs / 1000} s`;
  const armHandshakeTimer = (): void => {
    handshakeTimer = setTimeout(() => {
      timedOut = true;
      client.destroy();
    }, request.connectTimeoutMs);
  };
  const disarmHandshakeTimer = (): void => {
    if (handshakeTimer !== null) clearTimeout(handshakeTimer);
    handshakeTimer = null;
  };

  let passwordAsked: string | null = null;
  const askOnce = async (): Promise<string> => {
    if (passwordAsked === null) {
      disarmHandshakeTimer();
      try {
        passwordAsked = await request.credentials.askPassword!(`${request.label} password: `);
      } finally {
        armHandshakeTimer();
      }
    }
    return passwordAsked;
  };

  const authHandler = (
    methodsLeft: AuthenticationType[] | null,
    _partial: boolean | null,
    next: (method: AnyAuthMethod | false) => void,
  ): void => {
    // Like OpenSSH, ask with "none" first: the answer lists the methods the server allows,
    // so nothing is tried (or prompted for) that it would refuse anyway.
    if (methodsLeft === null) return next({ type: 'none', username: request.user });
    const allowed = (method: AuthenticationType): boolean =>
      methodsLeft.includes(method) || (method === 'agent' && methodsLeft.includes('publickey'));
    while (plan.length > 0) {
      const method = plan.shift()!;
      if (!allowed(method)) continue;
      tried.push(method);
      const username = request.user;
      if (method === 'publickey') return next({ type: 'publickey', username, key: request.credentials.privateKey! });
      if (method === 'agent') return next({ type: 'agent', username, agent: request.credentials.agentSocket! });
      if (method === 'password') {
        askOnce().then(
          (password) => next({ type: 'password', username, password }),
          () => next(false),
        );
        return;
      }
      return next({
        type: 'keyboard-interactive',
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) => {
          if (prompts.length === 0) return finish([]);
          askOnce().then(
            (password) => finish(prompts.map(() => password)),
            () => finish([]),
          );
        },
      });
    }
    next(false);
  };

  return new Promise((resolve, reject) => {
    let settled = false;
    let lostReason: string | null = null;
    const pending = new Set<(reason: string) => void>();
    const failAll = (reason: string): void => {
      lostReason ??= reason;
      for (const cancel of [...pending]) cancel(lostReason);
      pending.clear();
    };

    client.on('ready', () => {
      disarmHandshakeTimer();
      settled = true;
      resolve(session);
    });
    client.on('error', (error: Error & { level?: string }) => {
      disarmHandshakeTimer();
      let reason: string;
      if (hostKeyRefusal !== null) reason = hostKeyRefusal;
      else if (timedOut) reason = timeoutReason;
      else if (error.level === 'client-authentication') {
        reason =
          tried.length === 0
            ? `${request.label} accepts none of the available authentication methods`
            : `authentication failed for ${request.label} (tried ${tried.join(', ')})`;
      } else if (error.level === 'client-socket' && /ECONNREFUSED/.test(error.message))
        reason = `connection refused (is SSH enabled on port ${request.port}?)`;
      else reason = oneLine(error);
      if (!settled) {
        settled = true;
        reject(new DeployError(reason));
      } else {
        failAll(`connection lost: ${oneLine(error)}`);
      }
    });
    client.on('close', () => {
      disarmHandshakeTimer();
      failAll('connection lost');
      if (!settled) {
        settled = true;
        reject(
          new DeployError(
            hostKeyRefusal ?? (timedOut ? timeoutReason : 'the connection was closed during the handshake'),
          ),
        );
      }
    });

    // Each pending operation registers a canceller so a dropped connection fails it at once.
    const track = <T>(start: (resolve: (value: T) => void, reject: (error: Error) => void) => void): Promise<T> =>
      new Promise<T>((resolveOp, rejectOp) => {
        if (lostReason !== null) return rejectOp(new DeployError(lostReason));
        const cancel = (reason: string): void => rejectOp(new DeployError(reason));
        pending.add(cancel);
        start(
          (value) => {
            pending.delete(cancel);
            resolveOp(value);
          },
          (error) => {
            pending.delete(cancel);
            rejectOp(error);
          },
        );
      });

    let sftpChannel: Promise<SFTPWrapper> | null = null;
    const sftp = (): Promise<SFTPWrapper> => {
      sftpChannel ??= track<SFTPWrapper>((ok, fail) =>
        client.sftp((error, channel) =>
          error ? fail(new DeployError(`SFTP is not available: ${oneLine(error)}`)) : ok(channel),
        ),
      );
      return sftpChannel;
    };

    const session: RemoteSession = {
      get alive() {
        return lostReason === null;
      },
      exec(command, what, timeoutMs) {
        return track<ExecResult>((ok, fail) => {
          client.exec(command, (error: Error | undefined, stream: ClientChannel) => {
            if (error) return fail(new DeployError(`cannot run ${what}: ${oneLine(error)}`));
            const stdout: Buffer[] = [];
            const stderr: Buffer[] = [];
            const timer = setTimeout(() => {
              stream.close();
              fail(new DeployError(`${what} did not finish within ${timeoutMs / 1000} s`));
            }, timeoutMs);
            stream.on('data', (chunk: Buffer) => stdout.push(chunk));
            stream.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
            stream.on('close', (code: number | null) => {
              clearTimeout(timer);
              ok({
                code: typeof code === 'number' ? code : null,
                stdout: Buffer.concat(stdout).toString('utf8'),
                stderr: Buffer.concat(stderr).toString('utf8'),
              });
            });
            stream.end();
          });
        });
      },
      async upload(localFile, remoteFile, onProgress) {
        const channel = await sftp();
        await track<void>((ok, fail) => {
          channel.fastPut(
            localFile,
            remoteFile,
            { step: (done, _chunk, total) => onProgress(done, total), mode: 0o600 },
            (error) => {
              if (error)
                fail(
                  new DeployError(lostReason ?? `upload to ${JSON.stringify(remoteFile)} failed: ${oneLine(error)}`),
                );
              else ok();
            },
          );
        });
      },
      async rename(from, to) {
        const channel = await sftp();
        await track<void>((ok, fail) => {
          channel.rename(from, to, (error) =>
            error ? fail(new DeployError(`cannot rename the upload: ${oneLine(error)}`)) : ok(),
          );
        });
      },
      close() {
        client.end();
      },
    };

    armHandshakeTimer();
    client.connect({
      host: request.host,
      port: request.port,
      username: request.user,
      readyTimeout: 0,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      hostVerifier,
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(knownHosts, request.host, request.port) as never },
      authHandler: authHandler as never,
    });
  });
}
