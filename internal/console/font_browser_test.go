package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestChineseHasGlyphs: in the chromium the tests use, installed as
// .ci/run installs it, Chinese text in the console's own font stack
// draws real glyphs, not the empty boxes of a missing font (OPERATIONS.md:
// the operator's machine needs a CJK font). Two different characters
// drawn alike, or like a code point no font has, are boxes.
func TestChineseHasGlyphs(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	const check = `(() => {
		const c = document.createElement("canvas");
		c.width = 96; c.height = 48;
		const g = c.getContext("2d");
		const draw = (s) => {
			g.clearRect(0, 0, 96, 48);
			g.font = '32px system-ui, "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif';
			g.fillText(s, 0, 36);
			return g.getImageData(0, 0, 96, 48).data.join(",");
		};
		const missing = draw("\u{10FFFD}"), blank = draw("");
		const chars = ["中", "文", "警", "报"].map(draw);
		const distinct = new Set(chars).size === chars.length;
		return distinct && chars.every((d) => d !== missing && d !== blank);
	})()`
	run(t, b, "open a page", chromedp.Navigate("about:blank"))
	ok := eval[bool](t, b, check)
	if !ok {
		t.Fatal("Chinese characters draw as empty boxes: no CJK font is installed (Debian: fonts-wqy-zenhei or fonts-noto-cjk)")
	}
}
