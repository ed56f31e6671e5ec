// The Metaflow extension: a thin client of the metaflow-lsp language server. Everything about
// flows and runs is the server's; the extension starts it, adds two keyboard commands (run this
// file's flow, spin the step under the cursor), streams run output into the "Metaflow" Output
// channel, and shows the server's web view in a webview panel and its run history in a side panel.
//
// The server's commands (metaflow.run, spin, resume, cancel, openView, stepAt, parameters) are
// registered by vscode-languageclient from the server's executeCommandProvider; the extension
// registers none of them. `metaflow.openView` (the DAG lens) is intercepted in the middleware and
// opens the webview panel instead of a browser; so is a `window/showDocument` of the view's URL.
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  ResponseError,
  ShowMessageNotification,
  MessageType,
  State,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { serverLaunch } from "./launch";
import {
  finishedLine,
  finishedRoute,
  finishedSeverity,
  RecentMessages,
  startedLines,
  type Execution,
  type FinishedParams,
  type OutputParams,
} from "./messages";
import { routeOf, viewRouteOf } from "./routes";
import type { TreeNode } from "./runsTree";
import { RunsTreeProvider } from "./treeView";
import { MetaflowView, VIEW_TYPE } from "./view";

const EXECUTIONS = new Set(["metaflow.run", "metaflow.spin", "metaflow.resume"]);

let client: LanguageClient | undefined;
let starting: Promise<void> | undefined;

function settings(): { command: string; args: string[]; python: string | null } {
  const config = vscode.workspace.getConfiguration("metaflow");
  return {
    command: config.get<string>("server.command") || "metaflow-lsp",
    args: config.get<string[]>("server.args") ?? ["serve"],
    python: config.get<string | null>("python") || null,
  };
}

function errorMessage(error: unknown): string {
  if (error instanceof ResponseError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("Metaflow");
  const serverLog = vscode.window.createOutputChannel("Metaflow Language Server");
  const shown = new RecentMessages();
  let lastExecution: string | undefined;
  const log = (message: string) => serverLog.appendLine(`[extension] ${message}`);

  const view = new MetaflowView(context.extensionUri, () => client, log);
  const tree = new RunsTreeProvider(() =>
    client?.isRunning() ? (method, params) => client!.sendRequest(method, params) : undefined,
  );

  const started = (result: unknown) => {
    const execution = (result ?? {}) as Execution;
    const lines = startedLines(execution);
    if (!lines.length) return;
    for (const line of lines) output.appendLine(line);
    lastExecution = execution.execution;
    output.show(true);
  };

  const onOutput = (params: OutputParams) => {
    if (params.execution !== lastExecution) {
      output.appendLine(`── ${params.execution} · ${params.kind ?? ""} ${params.flow ?? ""}`.trimEnd());
      lastExecution = params.execution;
    }
    output.appendLine(params.text);
  };

  const onFinished = async (params: FinishedParams) => {
    output.appendLine(finishedLine(params));
    tree.refresh();
    // A spin that made cards: the server offers "Open card" itself (window/showMessageRequest).
    if (params.cards?.length) return;
    shown.remember(params.message);
    const route = finishedRoute(params);
    const actions = [...(route ? ["Show in view"] : []), "Show output"];
    const severity = finishedSeverity(params);
    const show =
      severity === "info"
        ? vscode.window.showInformationMessage
        : severity === "warning"
          ? vscode.window.showWarningMessage
          : vscode.window.showErrorMessage;
    const choice = await show(params.message, ...actions);
    if (choice === "Show in view" && route) view.show(route);
    else if (choice === "Show output") output.show(true);
  };

  const startClient = async (): Promise<void> => {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file").map((f) => f.uri.fsPath);
    const current = settings();
    const launch = serverLaunch(current, folders, process.env);
    if (launch.note) log(launch.note);
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      options: { cwd: folders[0], env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      initializationOptions: current.python ? { python: current.python } : {},
      outputChannel: serverLog,
      middleware: {
        executeCommand: async (command, args, next) => {
          if (command === "metaflow.openView") {
            // In VS Code the view is the webview panel, not a browser tab.
            const route = routeOf(args[0]);
            view.show(route);
            return { route, shown: true };
          }
          const result = await next(command, args);
          if (EXECUTIONS.has(command)) started(result);
          return result;
        },
        window: {
          showDocument: async (params, next) => {
            const route = viewRouteOf(params.uri);
            if (route) {
              view.show(route);
              return { success: true };
            }
            const result = await next(params, new vscode.CancellationTokenSource().token);
            return result instanceof ResponseError ? { success: false } : result;
          },
        },
      },
    };
    const created = new LanguageClient("metaflow", "Metaflow", serverOptions, clientOptions);
    client = created;
    created.onDidChangeState((event) => {
      if (event.newState === State.Running) tree.refresh();
    });
    try {
      await created.start();
    } catch (error) {
      const action = await vscode.window.showErrorMessage(
        `The Metaflow language server did not start (${launch.command} ${launch.args.join(" ")}): ${errorMessage(error)}. ` +
          "Install it (pip install metaflow-lsp) or set metaflow.server.command to its path.",
        "Open settings",
        "Show log",
      );
      if (action === "Open settings") void vscode.commands.executeCommand("workbench.action.openSettings", "metaflow.");
      else if (action === "Show log") serverLog.show();
      return;
    }
    created.onNotification("metaflow/output", onOutput);
    created.onNotification("metaflow/finished", (params: FinishedParams) => void onFinished(params));
    // The server also shows each execution's final message: the extension has shown it already
    // (with its actions), so that copy is dropped; every other message is shown as usual.
    created.onNotification(ShowMessageNotification.type, (params) => {
      if (shown.take(params.message)) return;
      const show =
        params.type === MessageType.Error
          ? vscode.window.showErrorMessage
          : params.type === MessageType.Warning
            ? vscode.window.showWarningMessage
            : vscode.window.showInformationMessage;
      void show(params.message);
    });
    tree.refresh();
  };

  const stopClient = async (): Promise<void> => {
    const old = client;
    client = undefined;
    if (old) {
      try {
        await old.stop(10_000);
      } catch (error) {
        log(`stopping the server: ${errorMessage(error)}`);
      }
    }
  };

  const restart = async (): Promise<void> => {
    await stopClient();
    starting = startClient();
    await starting;
  };

  /** Run one of the server's commands; a refusal or an error is shown, never thrown. */
  const serverCommand = async (command: string, argument: Record<string, unknown>): Promise<unknown> => {
    await starting;
    if (!client?.isRunning()) {
      void vscode.window.showErrorMessage('The Metaflow language server is not running: run "Metaflow: Restart the language server".');
      return undefined;
    }
    try {
      return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] });
    } catch (error) {
      void vscode.window.showErrorMessage(`Metaflow: ${errorMessage(error)}`);
      return undefined;
    }
  };

  const flowEditor = (what: string): vscode.TextEditor | undefined => {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== "python" || editor.document.uri.scheme !== "file") {
      void vscode.window.showWarningMessage(`Open a flow file (a Python file with a FlowSpec) to ${what}.`);
      return undefined;
    }
    return editor;
  };

  const runFile = async () => {
    const editor = flowEditor("run its flow");
    if (!editor || !client) return;
    // Metaflow runs the saved file, as `python flow.py run` would.
    if (editor.document.isDirty) await editor.document.save();
    const result = await serverCommand("metaflow.run", { uri: client.code2ProtocolConverter.asUri(editor.document.uri) });
    started(result);
  };

  const spinStep = async () => {
    const editor = flowEditor("spin a step");
    if (!editor || !client) return;
    const uri = client.code2ProtocolConverter.asUri(editor.document.uri);
    const position = client.code2ProtocolConverter.asPosition(editor.selection.active);
    const at = (await serverCommand("metaflow.stepAt", { uri, position })) as { flow: string; step: string | null } | null | undefined;
    if (at === undefined) return;
    if (at === null) {
      void vscode.window.showInformationMessage("The cursor is not in a flow: put it in a step to spin that step.");
      return;
    }
    if (!at.step) {
      void vscode.window.showInformationMessage(`The cursor is in ${at.flow} but not in a step: put it in the step to spin.`);
      return;
    }
    if (editor.document.isDirty) await editor.document.save();
    started(await serverCommand("metaflow.spin", { uri, flow: at.flow, step: at.step }));
  };

  const stopFile = async () => {
    const editor = flowEditor("stop its runs");
    if (!editor || !client) return;
    const answer = (await serverCommand("metaflow.cancel", { uri: client.code2ProtocolConverter.asUri(editor.document.uri) })) as
      | { cancelled?: string[] }
      | undefined;
    if (answer && !answer.cancelled?.length) void vscode.window.showInformationMessage("Nothing of this file is running.");
  };

  context.subscriptions.push(
    output,
    serverLog,
    { dispose: () => void stopClient() },
    { dispose: () => view.dispose() },
    vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, view),
    vscode.window.registerTreeDataProvider("metaflow.runs", tree),
    vscode.commands.registerCommand("metaflow.showView", (arg?: unknown) =>
      view.show(typeof arg === "string" ? routeOf({ pathspec: arg }) : arg ? routeOf(arg) : undefined),
    ),
    vscode.commands.registerCommand("metaflow.runFile", runFile),
    vscode.commands.registerCommand("metaflow.spinStep", spinStep),
    vscode.commands.registerCommand("metaflow.stopFile", stopFile),
    vscode.commands.registerCommand("metaflow.restartServer", restart),
    vscode.commands.registerCommand("metaflow.showOutput", () => output.show()),
    vscode.commands.registerCommand("metaflow.runs.refresh", () => tree.refresh()),
    vscode.commands.registerCommand("metaflow.runs.open", (node: TreeNode) => view.show(node.route)),
    vscode.commands.registerCommand("metaflow.runs.loadMore", (node: TreeNode) => tree.loadMore(node)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration("metaflow")) return;
      // Not running (it did not start): nothing to lose, start it with the new settings.
      if (!client?.isRunning()) return restart();
      const choice = await vscode.window.showInformationMessage(
        "Restart the Metaflow language server to apply the new settings? Runs started from the editor will stop.",
        "Restart",
      );
      if (choice === "Restart") await restart();
    }),
  );

  starting = startClient();
  await starting;
}

export async function deactivate(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) await old.stop(10_000);
}
