import { dashboardWidgets, renderSvg } from '../../scripts/dashboard-layout';

/** docs/dashboard-layout.svg is drawn from the synthesized dashboard body: one box per widget, text escaped. */

const body = {
  'Fn::Join': [
    '',
    [
      '{"widgets":[{"type":"text","width":24,"height":2,"x":0,"y":0,"properties":{"markdown":"## mcp-identity — ',
      { Ref: 'AWS::StackName' },
      '"}},{"type":"metric","width":8,"height":6,"x":0,"y":2,"properties":{"view":"timeSeries","title":"Calls <per> tool & more"}},{"type":"log","width":12,"height":6,"x":8,"y":2,"properties":{"view":"table","title":"Top denied users (audit log group) with a title long enough to need a second line of text"}}]}',
    ],
  ],
};

describe('dashboard layout', () => {
  it('reads the widgets out of a DashboardBody with tokens in it', () => {
    const widgets = dashboardWidgets(body);
    expect(widgets.map((widget) => [widget.type, widget.x, widget.y, widget.width, widget.height])).toEqual([
      ['text', 0, 0, 24, 2],
      ['metric', 0, 2, 8, 6],
      ['log', 8, 2, 12, 6],
    ]);
  });

  it('draws one box per widget at its grid position, with titles escaped and wrapped', () => {
    const svg = renderSvg(dashboardWidgets(body));
    expect(svg.match(/<rect x=/g)).toHaveLength(3);
    expect(svg).toContain('<rect x="386" y="54" width="572" height="152"');
    expect(svg).toContain('Calls &lt;per&gt; tool &amp; more');
    expect(svg).toContain('mcp-identity — &lt;token&gt;');
    expect(svg).not.toMatch(/<text[^>]*>[^<]*[<>&](?!amp;|lt;|gt;|quot;)[^<]*<\/text>/);
    expect(svg.match(/font-weight="bold">/g)?.length).toBe(4);
  });
});
