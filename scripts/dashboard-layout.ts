/**
 * `npx tsx scripts/dashboard-layout.ts [out.svg]`: renders the layout of the CloudWatch dashboard the stack
 * deploys (lib/constructs/observability.ts) from its synthesized DashboardBody — widget positions, sizes,
 * kinds and titles on CloudWatch's 24-column grid — as an SVG (default docs/dashboard-layout.svg). No AWS
 * account is needed: it is the dashboard JSON CloudFormation receives, drawn, not a console screenshot.
 * The configuration is cdk.json's with both doors and the CloudTrail Lake store, so every widget appears.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseStackConfig } from '../lib/config';
import { McpIdentityStack } from '../lib/mcp-identity-stack';

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: { readonly title?: string; readonly markdown?: string; readonly view?: string };
}

const ROOT = join(__dirname, '..');
const COLUMN = 48;
const ROW = 26;
const KIND: Record<string, { label: string; fill: string }> = {
  metric: { label: 'metrics', fill: '#e8f1fb' },
  log: { label: 'Logs Insights', fill: '#eef8ec' },
  text: { label: 'text', fill: '#f4f4f4' },
};

/** The dashboard body with CloudFormation tokens shown as placeholders. */
export function dashboardWidgets(body: unknown): Widget[] {
  const text =
    typeof body === 'string'
      ? body
      : ((body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? [])
          .map((part) => (typeof part === 'string' ? part : '<token>'))
          .join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

const xmlText = (value: string) =>
  value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A title in at most two lines of `chars` characters, cut at a space where it can be. */
function titleLines(title: string, chars: number): string[] {
  if (title.length <= chars) return [title];
  const cut = title.lastIndexOf(' ', chars);
  const at = cut > chars / 2 ? cut : chars;
  const rest = title.slice(at).trim();
  return [title.slice(0, at), rest.length > chars ? `${rest.slice(0, chars - 1)}…` : rest];
}

export function renderSvg(widgets: readonly Widget[]): string {
  const width = 24 * COLUMN;
  const height = Math.max(...widgets.map((widget) => widget.y + widget.height)) * ROW;
  const boxes = widgets.map((widget) => {
    const kind = KIND[widget.type] ?? { label: widget.type, fill: '#ffffff' };
    const title =
      widget.properties.title ??
      (widget.properties.markdown ?? '').split('\n')[0]?.replace(/^#+\s*/, '') ??
      '';
    const x = widget.x * COLUMN;
    const y = widget.y * ROW;
    const w = widget.width * COLUMN;
    const h = widget.height * ROW;
    const label = `${kind.label}${widget.properties.view ? ` (${widget.properties.view})` : ''}`;
    return [
      `<rect x="${x + 2}" y="${y + 2}" width="${w - 4}" height="${h - 4}" rx="4" fill="${kind.fill}" stroke="#8a99a8"/>`,
      ...titleLines(title, Math.floor(w / 7.5)).map(
        (text, index) =>
          `<text x="${x + 10}" y="${y + 22 + index * 16}" font-size="13" font-weight="bold">${xmlText(text)}</text>`,
      ),
      `<text x="${x + 10}" y="${y + 22 + titleLines(title, Math.floor(w / 7.5)).length * 16}" font-size="11" fill="#555">${xmlText(label)} · ${widget.width}×${widget.height}</text>`,
    ].join('\n');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...boxes,
    '</svg>',
    '',
  ].join('\n');
}

function main(): void {
  const out = process.argv[2] ?? join(ROOT, 'docs', 'dashboard-layout.svg');
  const example = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')).context.mcpIdentity;
  const config = parseStackConfig({
    ...example,
    audit: { ...example.audit, store: 'cloudtrail-lake' },
    doors: {
      agentcore: {},
      apiGateway: { upstream: { url: 'https://mcp.example.com/mcp', name: 'orders' } },
    },
  });
  const app = new App();
  const stack = new McpIdentityStack(app, 'McpIdentity', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
  if (dashboard === undefined)
    throw new Error('the stack has no dashboard (observability.dashboard: false?)');
  writeFileSync(out, renderSvg(dashboardWidgets(dashboard.Properties.DashboardBody)));
  process.stdout.write(`wrote ${out}\n`);
}

if (require.main === module) main();
