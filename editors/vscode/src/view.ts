// The Metaflow view in a webview panel: the built app (media/static) and the relay of its
// requests to the language server (relay.ts). One panel per window, restored after a reload by a
// WebviewPanelSerializer (the app keeps its route with setState).
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { panelHtml, makeNonce, cardWithNonce } from "./panelHtml";
import { Relay, type SourceLocation } from "./relay";
import { utf16Column } from "./routes";

export const VIEW_TYPE = "metaflow.view";

export class MetaflowView implements vscode.WebviewPanelSerializer {
  private panel: vscode.WebviewPanel | undefined;
  private relay: Relay | undefined;
  private ready = false;
  private pendingRoute: string | undefined;
  /** Where the view is (the app's last `route` message). */
  route: string | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly client: () => LanguageClient | undefined,
    private readonly log: (message: string) => void,
  ) {}

  /** Show the view (create it or bring it forward), at `route` when given. */
  show(route?: string): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
    } else {
      const panel = vscode.window.createWebviewPanel(
        VIEW_TYPE,
        "Metaflow",
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        this.options(),
      );
      this.attach(panel);
    }
    if (route) this.navigate(route);
  }

  /** Restore the panel VS Code kept across a reload (the app finds its route in its state). */
  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const saved = state && typeof state === "object" ? (state as { route?: unknown }).route : undefined;
    if (typeof saved === "string") this.route = saved;
    panel.webview.options = this.options();
    this.attach(panel);
  }

  dispose(): void {
    this.panel?.dispose();
  }

  private options(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      enableCommandUris: false,
      enableFindWidget: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "media", "static")],
    };
  }

  private navigate(route: string): void {
    if (this.ready && this.relay) this.relay.navigate(route);
    else this.pendingRoute = route;
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    this.panel = panel;
    this.ready = false;
    const webview = panel.webview;
    const media = vscode.Uri.joinPath(this.extensionUri, "media", "static");
    const nonce = makeNonce();
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, "media", "metaflow.svg");
    const relay = new Relay({
      sendRequest: (method, params, signal) => this.sendRequest(method, params, signal),
      post: (message) => void webview.postMessage(message),
      openSource: (location) => this.openSource(location),
      routed: (route) => {
        this.route = route;
        panel.title = route === "#/" ? "Metaflow" : `Metaflow · ${decodeURIComponent(route.slice(2).split("?")[0])}`;
      },
      ready: () => {
        this.ready = true;
        if (this.pendingRoute) {
          relay.navigate(this.pendingRoute);
          this.pendingRoute = undefined;
        }
      },
      cardHtml: (html) => cardWithNonce(html, nonce),
      log: this.log,
    });
    this.relay = relay;
    const subscriptions = [
      webview.onDidReceiveMessage((message) => void relay.receive(message)),
      // Hidden, the page is unloaded (retainContextWhenHidden is off): it says `ready` again.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    ];
    panel.onDidDispose(() => {
      relay.dispose();
      for (const subscription of subscriptions) subscription.dispose();
      if (this.panel === panel) {
        this.panel = undefined;
        this.relay = undefined;
        this.ready = false;
      }
    });
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "app.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "app.css")).toString(),
      nonce,
    });
  }

  private async sendRequest(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const client = this.client();
    if (!client || !client.isRunning()) {
      throw new Error("the language server is not running");
    }
    const cancel = new vscode.CancellationTokenSource();
    const onAbort = () => cancel.cancel();
    signal.addEventListener("abort", onAbort);
    try {
      return await client.sendRequest(method, params, cancel.token);
    } finally {
      signal.removeEventListener("abort", onAbort);
      cancel.dispose();
    }
  }

  private async openSource(location: SourceLocation): Promise<void> {
    const document = await vscode.workspace.openTextDocument(vscode.Uri.file(location.path));
    const line = Math.min(location.line, Math.max(0, document.lineCount - 1));
    const character = utf16Column(document.lineAt(line).text, location.character);
    const at = new vscode.Position(line, character);
    const column = this.panel?.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
    await vscode.window.showTextDocument(document, {
      viewColumn: column,
      selection: new vscode.Range(at, at),
      preserveFocus: false,
    });
  }
}
