"""The HTML viewer in a real headless Chromium (skipped when none is installed; CI installs
Debian's chromium).  A small harness script is appended to a copy of the page: it drives the
page as a user would (search box, keys, buttons, clicks) and writes what it measured as JSON
into the DOM, which ``--dump-dom`` hands back."""
import html
import json
import re
import shutil
import subprocess

import pytest

import symnorm as sn
from test_viz import lenet_bn
from test_viz_layout import zoo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="no headless browser installed "
                                   "(Debian: apt-get install chromium)")

_ERRORS = """<script>window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message)));
const __ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); __ce(...a); };
</script>"""

_COMMON = """
function __report(result) {
  result.errors = window.__errors; result.pwned = window.__pwned === undefined ? null : window.__pwned;
  const pre = document.createElement('pre'); pre.id = 'harness-result';
  pre.textContent = JSON.stringify(result); document.body.appendChild(pre);
}
function __inside(el, box) { const r = el.getBoundingClientRect();
  return r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1; }
const __view = document.getElementById('view'), __svg = __view.querySelector('svg');
const __nodes = Array.from(__svg.querySelectorAll('g.node'));
"""


def run_page(page, harness, tmp_path, size=(1280, 800)):
    """Load ``page`` with ``harness`` appended; the harness's ``__report(result)``."""
    page = page.replace("<head>", "<head>" + _ERRORS, 1)
    page = page.replace("</body>", "<script>%s\n%s</script></body>" % (_COMMON, harness), 1)
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=%s" % (tmp_path / "profile"), "--enable-logging=stderr", "--v=0",
         "--window-size=%d,%d" % size, "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="harness-result">(.*?)</pre>', out.stdout, re.S)
    assert found, "the harness did not report:\n" + out.stderr[-3000:]
    result = json.loads(html.unescape(found.group(1)))
    result["console"] = [l for l in out.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    return result


_VIEWER = """
const box = __view.getBoundingClientRect(), r = {};
r.drawn = __nodes.map(g => g.getAttribute('data-name'));
r.outside_fitted = __nodes.filter(g => !__inside(g, box)).length;
r.fitted_viewbox = __svg.getAttribute('viewBox');
r.view = [box.width, box.height];
r.legend = document.querySelectorAll('#legend div').length;
const s = document.getElementById('search');
s.value = TARGET; s.dispatchEvent(new Event('input'));
const sel = __svg.querySelector('g.node.selected');
r.selected = sel && sel.getAttribute('data-name');
r.selected_visible = !!sel && __inside(sel, box);
const sb = sel.getBoundingClientRect();
r.selected_offcentre = [Math.abs((sb.left + sb.right) / 2 - (box.left + box.right) / 2),
                        Math.abs((sb.top + sb.bottom) / 2 - (box.top + box.bottom) / 2)];
r.info_name = document.querySelector('#info td + td').textContent;
r.zoomed_viewbox = __svg.getAttribute('viewBox');
window.dispatchEvent(new KeyboardEvent('keydown', {key: 'f'}));
r.after_f = __svg.getAttribute('viewBox');
r.outside_after_f = __nodes.filter(g => !__inside(g, box)).length;
document.getElementById('zoomin').click();
r.after_zoomin = __svg.getAttribute('viewBox');
__report(r);
"""


@needs_browser
@pytest.mark.parametrize("name,target", [("lenet_bn", "bn3"),
                                         ("resnet18_v1", "resnetv10_stage3_batchnorm2_fwd")])
def test_viewer_fits_searches_and_zooms(name, target, tmp_path):
    net = lenet_bn() if name == "lenet_bn" else zoo(name)
    shape = {"data": (1, 1, 28, 28) if name == "lenet_bn" else (1, 3, 224, 224)}
    page = sn.viz.to_html(net, shape=shape)
    r = run_page(page, "const TARGET = %s;\n%s" % (json.dumps(target), _VIEWER), tmp_path)
    assert r["errors"] == [] and r["console"] == [], (r["errors"], r["console"])
    views = [v.name for v in sn.viz.describe(net) if v.role in ("op", "data")]
    assert sorted(r["drawn"]) == sorted(views)                       # every node drawn
    assert r["outside_fitted"] == 0                                  # opens fitted: all in view
    assert r["legend"] >= 3
    assert r["selected"] == target and r["info_name"] == target      # search selects ...
    assert r["selected_visible"] and max(r["selected_offcentre"]) < 5    # ... and centres it

    def scale(viewbox):              # graph units per pixel ("meet": the larger ratio)
        _, _, w, h = map(float, viewbox.split())
        return max(w / r["view"][0], h / r["view"][1])
    assert scale(r["zoomed_viewbox"]) < scale(r["fitted_viewbox"])
    assert r["after_f"] == r["fitted_viewbox"] and r["outside_after_f"] == 0   # F fits again
    assert scale(r["after_zoomin"]) < scale(r["fitted_viewbox"])


HOSTILE = [
    'a" onmouseover="window.__pwned=1" x="',
    "b' onload='window.__pwned=2' x='",
    "</script><script>window.__pwned=3</script>",
    '<img src=x onerror="window.__pwned=4">',
    "javascript:window.__pwned=5",
    "</title><svg onload=window.__pwned=6>",
    "&amp; &lt; & <!-- --> ]]> <![CDATA[",
    "__proto__",
    "  two  spaces\u2028and a line separator",
]


def hostile_net():
    net = sn.sym.Variable(HOSTILE[0])
    for k, name in enumerate(HOSTILE[1:]):
        net = sn.sym.Activation(net, act_type="relu", name=name)
    return net


_HOSTILE_HARNESS = """
const r = {};
r.drawn = __nodes.map(g => g.getAttribute('data-name'));
r.titles = __nodes.map(g => g.querySelector('title').textContent);
r.shown = [];
__nodes.forEach(g => { g.dispatchEvent(new MouseEvent('click', {bubbles: true}));
                       r.shown.push(document.querySelector('#info td + td').textContent); });
__nodes.forEach(g => ['mouseover', 'load', 'error'].forEach(t => g.dispatchEvent(new Event(t))));
r.handlers = [];
document.querySelectorAll('*').forEach(el => { for (const a of el.attributes)
  if (a.name.startsWith('on')) r.handlers.push(el.tagName + ' ' + a.name); });
r.scripts = document.querySelectorAll('script').length;
r.foreign = document.querySelectorAll('img, iframe, a, object, embed').length;
r.title = document.title;
__report(r);
"""


@needs_browser
def test_hostile_names_stay_text_in_the_browser(tmp_path):
    title = '<img src=x onerror="window.__pwned=7">'
    page = sn.viz.to_html(hostile_net(), title=title)
    r = run_page(page, _HOSTILE_HARNESS, tmp_path)
    assert r["pwned"] is None and r["handlers"] == [] and r["foreign"] == 0
    assert r["scripts"] == 3                       # the page's, and the harness's two
    assert sorted(r["drawn"]) == sorted(HOSTILE)   # verbatim, quotes and all
    assert sorted(r["shown"]) == sorted(HOSTILE)
    assert all(t.startswith(n) for n, t in zip(r["drawn"], r["titles"]))
    assert r["title"] == title
    assert r["errors"] == [] and r["console"] == []


# ------------------------------------------------------------------ parsed, no browser needed

from html.parser import HTMLParser  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.handlers, self.data_names = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [(tag, k) for k, _ in attrs if k.startswith("on")]
        self.data_names += [v for k, v in attrs if k == "data-name"]


def test_hostile_names_are_data_in_html_svg_and_dot():
    title = '<img src=x onerror="window.__pwned=7">'
    p = _Tags()
    p.feed(sn.viz.to_html(hostile_net(), title=title))
    assert p.handlers == [] and p.tags.count("script") == 1
    assert not {"img", "iframe", "a", "object", "embed"} & set(p.tags)
    assert sorted(p.data_names) == sorted(HOSTILE)
    views = [v for v in sn.viz.describe(hostile_net())]
    root = ET.fromstring(sn.viz.svg.render_svg(views, title))
    attrs = [(el.tag, k) for el in root.iter() for k in el.attrib if k.startswith("on")]
    assert attrs == [] and root.find("{http://www.w3.org/2000/svg}title").text == title
    assert sorted(g.get("data-name") for g in root.iter("{http://www.w3.org/2000/svg}g")
                  if g.get("class") == "node") == sorted(HOSTILE)
    src = sn.viz.plot_network(hostile_net(), title=title).source
    if shutil.which("dot"):
        out = subprocess.run(["dot", "-Tjson"], input=src.encode(), capture_output=True, check=True)
        objs = json.loads(out.stdout)["objects"]
        assert sorted(o["name"] for o in objs) == sorted(HOSTILE)
        out = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True, check=True)
        root = ET.fromstring(out.stdout)                     # Graphviz's own SVG is clean too
        assert [k for el in root.iter() for k in el.attrib if k.startswith("on")] == []
