// The ready-made Grafana dashboard (deploy/grafana-dashboard.json) as the tests read it: its PromQL queries, the
// metric names they use, and each query with Grafana's variables filled in so that Prometheus tools can parse it.
import { readFileSync } from 'node:fs';

export const DASHBOARD_PATH = new URL('../../deploy/grafana-dashboard.json', import.meta.url).pathname;

interface Datasource {
  type?: string;
  uid?: string;
}

interface Panel {
  title?: string;
  type?: string;
  datasource?: Datasource;
  targets?: { expr?: string; datasource?: Datasource }[];
  panels?: Panel[];
}

export interface Dashboard {
  __inputs?: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating?: { list: { name: string; datasource?: Datasource; query?: string | { query?: string } }[] };
}

/** One query of the dashboard and where it is (a panel's title, or a variable's name). */
export interface DashboardQuery {
  where: string;
  expr: string;
  datasource: Datasource | undefined;
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every query: the panels' targets (rows' panels included) and the template variables'. */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  const visit = (panel: Panel): void => {
    for (const target of panel.targets ?? []) {
      if (target.expr !== undefined) {
        queries.push({
          where: `panel "${panel.title ?? '?'}"`,
          expr: target.expr,
          datasource: target.datasource ?? panel.datasource,
        });
      }
    }
    for (const inner of panel.panels ?? []) visit(inner);
  };
  for (const panel of dashboard.panels) visit(panel);
  for (const variable of dashboard.templating?.list ?? []) {
    const expr = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (expr !== undefined) {
      queries.push({ where: `variable "${variable.name}"`, expr, datasource: variable.datasource });
    }
  }
  return queries;
}

/** Words of PromQL that are neither functions (always followed by "(") nor metric names. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/**
 * The metric names a query selects. Label matchers, grouping labels, ranges and strings are cut first; what is left
 * that is not a function call, a keyword or a number is a metric name. `label_values(metric, label)` names one too.
 */
export function metricNamesOf(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\blabel_values\s*\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)/g, ' $1 ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = match;
    if (call === undefined && !KEYWORDS.has(word!)) names.add(word!);
  }
  return names;
}

/** The query with Grafana's variables replaced by values Prometheus accepts (`$__rate_interval` → `5m`, …). */
export function concreteQuery(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?(job|instance)\}?/g, '.*');
}
