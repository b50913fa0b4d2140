package htmlreport

import (
	"fmt"
	"html/template"
	"strings"
)

// growthChart draws the outstanding allocations over the hits as an inline
// SVG line (bytes when the log gave sizes, counts otherwise): a few
// hundred bytes of markup, no script needed.
func growthChart(points []GrowthPoint, axis string) template.HTML {
	if axis == "" {
		axis = "hit"
	}
	if len(points) < 2 {
		return ""
	}
	const w, h, pad = 720.0, 200.0, 40.0
	useBytes := false
	for _, p := range points {
		if p.OutstandingBytes > 0 {
			useBytes = true
		}
	}
	val := func(p GrowthPoint) float64 {
		if useBytes {
			return float64(p.OutstandingBytes)
		}
		return float64(p.Outstanding)
	}
	minX, maxX := float64(points[0].Hit), float64(points[0].Hit)
	maxY := 0.0
	for _, p := range points {
		minX = min(minX, float64(p.Hit))
		maxX = max(maxX, float64(p.Hit))
		maxY = max(maxY, val(p))
	}
	if maxX == minX {
		maxX = minX + 1
	}
	if maxY == 0 {
		maxY = 1
	}
	var pts strings.Builder
	for i, p := range points {
		if i > 0 {
			pts.WriteByte(' ')
		}
		x := pad + (float64(p.Hit)-minX)/(maxX-minX)*(w-2*pad)
		y := h - pad - val(p)/maxY*(h-2*pad)
		fmt.Fprintf(&pts, "%.1f,%.1f", x, y)
	}
	unit, top := "outstanding allocations", fmt.Sprintf("%.0f", maxY)
	if useBytes {
		unit, top = "outstanding bytes", humanBytes(int64(maxY))
	}
	last := points[len(points)-1]
	lastText := fmt.Sprintf("%d outstanding", last.Outstanding)
	if useBytes {
		lastText += ", " + humanBytes(last.OutstandingBytes)
	}
	svg := fmt.Sprintf(`<svg id="growth" class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`+
		`<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`+
		`<text x="%.0f" y="%.0f" class="lbl">%s</text><text x="%.0f" y="%.0f" class="lbl">0</text>`+
		`<text x="%.0f" y="%.0f" class="lbl">%s %d</text><text x="%.0f" y="%.0f" class="lbl" text-anchor="end">%s %d: %s</text>`+
		`<polyline points="%s" class="line"/></svg>`,
		w, h, unit,
		pad, h-pad, w-pad, h-pad, pad, pad, pad, h-pad,
		2.0, pad-6, template.HTMLEscapeString(top), 2.0, h-pad,
		pad, h-pad+16, axis, int(minX), w-pad, h-pad+16, axis, int(maxX), template.HTMLEscapeString(lastText),
		pts.String())
	return template.HTML(svg)
}
