// Two transports, one app: fetch to the JSON API in a browser, postMessage to the extension in a
// VS Code webview (the extension relays `request` messages to the server's custom requests).
// The message protocol is documented in docs/protocol.md ("The web view").

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly kind: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface SourceLocation {
  flow: string;
  step: string;
  path: string;
  line: number; // 0-based
  character: number; // 0-based, code points
}

export interface Transport {
  readonly kind: "http" | "vscode";
  request<T>(method: string, params: Record<string, unknown>): Promise<T>;
  /** Open a step's definition in the editor; false when there is no editor. */
  openSource(location: SourceLocation): boolean;
  /** Tell the host where the view is (the extension persists it). */
  routed(route: string): void;
  /** The URL of a card for a sandboxed frame, or null when its HTML must be fetched. */
  cardUrl(pathspec: string, hash: string): string | null;
  onNavigate(listener: (route: string) => void): void;
}

class HttpTransport implements Transport {
  readonly kind = "http" as const;

  async request<T>(method: string, params: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`api/${method}`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(params),
      });
    } catch (error) {
      throw new ApiError(
        `The view's server does not answer (${String(error)}): is \`metaflow-lsp view\` or the language server still running?`,
        0,
        "unreachable",
      );
    }
    const text = await response.text();
    let body: { result?: T; error?: { code: number; message: string; data?: Record<string, unknown> } };
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(
        response.status === 403
          ? "The view's token is missing or wrong: open the URL metaflow-lsp printed again."
          : `The server answered ${response.status}: ${text.slice(0, 200)}`,
        response.status,
        response.status === 403 ? "forbidden" : "http",
      );
    }
    if (body.error) {
      const data = body.error.data ?? {};
      throw new ApiError(body.error.message, body.error.code, String(data.kind ?? "error"), data);
    }
    return body.result as T;
  }

  openSource(): boolean {
    return false;
  }

  routed(): void {}

  cardUrl(pathspec: string, hash: string): string {
    return `card?pathspec=${encodeURIComponent(pathspec)}&hash=${encodeURIComponent(hash)}`;
  }

  onNavigate(): void {}
}

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class VsCodeTransport implements Transport {
  readonly kind = "vscode" as const;
  private next = 1;
  private pending = new Map<number, Pending>();
  private listeners: ((route: string) => void)[] = [];

  constructor(private readonly vscode: VsCodeApi) {
    window.addEventListener("message", (event: MessageEvent) => this.receive(event.data));
  }

  private receive(message: unknown): void {
    if (!message || typeof message !== "object") return;
    const m = message as Record<string, unknown>;
    if (m.type === "response" && typeof m.id === "number") {
      const waiting = this.pending.get(m.id);
      if (!waiting) return;
      this.pending.delete(m.id);
      const error = m.error as { code?: number; message?: string; data?: Record<string, unknown> } | undefined;
      if (error) {
        const data = error.data ?? {};
        waiting.reject(
          new ApiError(String(error.message ?? "request failed"), Number(error.code ?? 0), String(data.kind ?? "error"), data),
        );
      } else waiting.resolve(m.result);
    } else if (m.type === "navigate" && typeof m.route === "string") {
      for (const listener of this.listeners) listener(m.route);
    }
  }

  request<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.vscode.postMessage({ type: "request", id, method, params });
    });
  }

  openSource(location: SourceLocation): boolean {
    this.vscode.postMessage({ type: "openSource", ...location });
    return true;
  }

  routed(route: string): void {
    this.vscode.setState({ route });
    this.vscode.postMessage({ type: "route", route });
  }

  cardUrl(): null {
    return null;
  }

  onNavigate(listener: (route: string) => void): void {
    this.listeners.push(listener);
  }

  savedRoute(): string | null {
    const state = this.vscode.getState() as { route?: unknown } | null;
    return state && typeof state.route === "string" ? state.route : null;
  }

  ready(): void {
    this.vscode.postMessage({ type: "ready" });
  }
}

export function makeTransport(): { transport: Transport; initialRoute: string | null } {
  if (typeof acquireVsCodeApi === "function") {
    const transport = new VsCodeTransport(acquireVsCodeApi());
    const saved = transport.savedRoute();
    transport.ready();
    return { transport, initialRoute: saved };
  }
  return { transport: new HttpTransport(), initialRoute: null };
}
