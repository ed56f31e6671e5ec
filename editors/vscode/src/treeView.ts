// The run history side panel: runsTree.ts's nodes as VS Code tree items.
import * as vscode from "vscode";
import { RunsModel, type Request, type TreeNode } from "./runsTree";

const STATUS_ICONS: Record<string, [string, string | undefined]> = {
  succeeded: ["pass", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  running: ["sync~spin", "charts.blue"],
  stale: ["warning", "list.warningForeground"],
  cancelled: ["circle-slash", undefined],
  pending: ["circle-outline", undefined],
  unknown: ["question", undefined],
};

function icon(node: TreeNode): vscode.ThemeIcon {
  if (node.kind === "flow") return new vscode.ThemeIcon("type-hierarchy");
  if (node.kind === "more") return new vscode.ThemeIcon("ellipsis");
  if (node.kind === "note") return new vscode.ThemeIcon("info");
  const [name, color] = STATUS_ICONS[node.status ?? "unknown"] ?? STATUS_ICONS.unknown;
  return new vscode.ThemeIcon(name, color ? new vscode.ThemeColor(color) : undefined);
}

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly model: RunsModel;

  constructor(
    private readonly request: () => Request | undefined,
  ) {
    this.model = new RunsModel((method, params) => {
      const send = this.request();
      if (!send) return Promise.reject(new Error("The Metaflow language server is not running."));
      return send(method, params);
    });
  }

  /** Read everything again. */
  refresh(): void {
    this.model.clear();
    this.changed.fire(undefined);
  }

  /** The next page of a flow's runs. */
  async loadMore(node: TreeNode): Promise<void> {
    if (!node.flow) return;
    try {
      await this.model.loadMore(node.flow);
    } catch (error) {
      void vscode.window.showErrorMessage(`Cannot read more runs of ${node.flow}: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.changed.fire(undefined);
  }

  getChildren(node?: TreeNode): Promise<TreeNode[]> {
    return this.model.children(node);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const item = new vscode.TreeItem(
      node.label,
      node.collapsible ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.iconPath = icon(node);
    item.contextValue = `metaflow.${node.kind}`;
    if (node.kind === "more") {
      item.command = { command: "metaflow.runs.loadMore", title: "Load more runs", arguments: [node] };
    } else if (node.route && node.kind !== "flow") {
      // A flow opens (its runs) on click; its inline action shows its DAG.
      item.command = { command: "metaflow.runs.open", title: "Open in the Metaflow view", arguments: [node] };
    }
    return item;
  }
}
