// The webview's side of the extension, without `vscode`: the app posts `request` messages, the
// relay sends them to the language server and posts the answer back with the same id, the JSON-RPC
// error as is. Only `metaflow/*` requests are relayed. The message protocol is in docs/protocol.md
// ("The webview message protocol (VS Code)"). Tested under plain node against the real server.

export interface SourceLocation {
  flow: string;
  step: string;
  path: string;
  line: number; // 0-based
  character: number; // 0-based, code points
}

export interface RelayedError {
  code: number;
  message: string;
  data?: unknown;
}

export interface RelayHost {
  /** Send an LSP request to the server; rejects with the JSON-RPC error (code, message, data). */
  sendRequest(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown>;
  /** Post a message to the webview. */
  post(message: unknown): void;
  /** The app wants a step's `def` shown. */
  openSource?(location: SourceLocation): void | Promise<void>;
  /** The view moved to `route`. */
  routed?(route: string): void;
  /** The app (re)started. */
  ready?(): void;
  /** Rewrite a card's HTML before the app frames it (srcdoc), e.g. to let its scripts run. */
  cardHtml?(html: string): string;
  /** Something in a message was wrong or a handler failed: for the log. */
  log?(message: string): void;
}

/** Relayed request methods: the server's custom requests only. */
export const RELAYED_PREFIX = "metaflow/";
export const METHOD_NOT_FOUND = -32601;
export const INVALID_REQUEST = -32600;
/** The code the browser transport also uses when the server cannot be reached. */
export const UNREACHABLE = 0;

/** A JSON-RPC error as the webview should see it: the server's as is, else one that says what to do. */
export function asRelayedError(error: unknown): RelayedError {
  if (error && typeof error === "object") {
    const e = error as { code?: unknown; message?: unknown; data?: unknown };
    if (typeof e.code === "number" && typeof e.message === "string") {
      const relayed: RelayedError = { code: e.code, message: e.message };
      if (e.data !== undefined) relayed.data = e.data;
      return relayed;
    }
  }
  const text = error instanceof Error ? error.message : String(error);
  return {
    code: UNREACHABLE,
    message: `The Metaflow language server did not answer (${text}). Run "Metaflow: Restart the language server", or see the "Metaflow Language Server" output.`,
    data: { kind: "unreachable" },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

export class Relay {
  private readonly inFlight = new Map<number, AbortController>();
  private disposed = false;

  constructor(private readonly host: RelayHost) {}

  /** Handle one message from the webview (resolves when it has been answered). */
  async receive(message: unknown): Promise<void> {
    if (this.disposed || !isObject(message)) return;
    switch (message.type) {
      case "request":
        return this.request(message);
      case "ready":
        this.host.ready?.();
        return;
      case "route":
        if (typeof message.route === "string" && message.route.startsWith("#/")) this.host.routed?.(message.route);
        return;
      case "openSource":
        return this.openSource(message);
      default:
        this.host.log?.(`the Metaflow view sent an unknown message: ${JSON.stringify(message).slice(0, 200)}`);
    }
  }

  /** Show a pathspec's view (`#/Flow/run/…`). */
  navigate(route: string): void {
    if (!this.disposed) this.host.post({ type: "navigate", route });
  }

  /** Stop answering; cancel the requests still running on the server. */
  dispose(): void {
    this.disposed = true;
    for (const controller of this.inFlight.values()) controller.abort();
    this.inFlight.clear();
  }

  private async request(message: Record<string, unknown>): Promise<void> {
    const id = message.id;
    if (typeof id !== "number" || !Number.isInteger(id)) {
      this.host.log?.(`the Metaflow view sent a request without an integer id: ${JSON.stringify(message).slice(0, 200)}`);
      return;
    }
    const method = message.method;
    if (typeof method !== "string" || !method.startsWith(RELAYED_PREFIX)) {
      this.answer(id, undefined, {
        code: METHOD_NOT_FOUND,
        message: `The Metaflow view may only ask the server's metaflow/* requests, not ${JSON.stringify(method)}.`,
        data: { kind: "not_relayed" },
      });
      return;
    }
    const params = message.params === undefined || message.params === null ? {} : message.params;
    if (!isObject(params)) {
      this.answer(id, undefined, {
        code: INVALID_REQUEST,
        message: `The params of ${method} must be an object.`,
        data: { kind: "invalid_params" },
      });
      return;
    }
    const controller = new AbortController();
    this.inFlight.set(id, controller);
    try {
      let result = await this.host.sendRequest(method, params, controller.signal);
      if (method === "metaflow/card" && this.host.cardHtml && isObject(result) && typeof result.html === "string") {
        result = { ...result, html: this.host.cardHtml(result.html) };
      }
      this.answer(id, result === undefined ? null : result);
    } catch (error) {
      this.answer(id, undefined, asRelayedError(error));
    } finally {
      this.inFlight.delete(id);
    }
  }

  private answer(id: number, result: unknown, error?: RelayedError): void {
    if (this.disposed) return;
    this.host.post(error ? { type: "response", id, error } : { type: "response", id, result });
  }

  private async openSource(message: Record<string, unknown>): Promise<void> {
    const { flow, step, path, line, character } = message;
    if (
      typeof path !== "string" ||
      !path ||
      typeof line !== "number" ||
      typeof character !== "number" ||
      line < 0 ||
      character < 0
    ) {
      this.host.log?.(`openSource without a path and a position: ${JSON.stringify(message).slice(0, 200)}`);
      return;
    }
    try {
      await this.host.openSource?.({
        flow: String(flow ?? ""),
        step: String(step ?? ""),
        path,
        line: Math.floor(line),
        character: Math.floor(character),
      });
    } catch (error) {
      this.host.log?.(`cannot show ${path}:${line + 1}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
