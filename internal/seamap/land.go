// Package seamap draws maps of the sea as SVG, on the server, with no tile
// server and nothing from the network: an embedded Natural Earth land data
// set (1:50m, public domain; see README.md beside this file) under an
// equirectangular projection fitted to the features shown, and the
// features themselves (areas, tracks, points), each labelled, with a
// title to hover over and a link to follow.
//
// Everything here is a plain function over plain data: no clock, disk or
// socket. Longitudes are unwrapped around the view, so a view across the
// antimeridian (170°E to 170°W) draws as one piece.
package seamap

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"sync"
)

// land50m is Natural Earth's 1:50m land polygons as TopoJSON, from the
// world-atlas package (version 2.0.2, Natural Earth 4.1.0).
//
//go:embed land-50m.json
var land50m []byte

// Point is a position in WGS84 decimal degrees.
type Point struct {
	Lat, Lon float64
}

// ring is one closed ring of a land polygon, with its bounding box.
type ring struct {
	pts                      []Point
	south, north, west, east float64
}

// polygon is an outer ring and its holes.
type polygon []ring

// Land returns the embedded land polygons, decoded once.
var land = sync.OnceValues(func() ([]polygon, error) { return decodeTopo(land50m, "land") })

// topology is the part of TopoJSON (github.com/topojson/topojson-specification)
// the land data set uses: quantized, delta-encoded arcs and polygons made
// of them.
type topology struct {
	Type      string `json:"type"`
	Transform *struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Objects map[string]topoObject `json:"objects"`
	Arcs    [][][2]float64        `json:"arcs"`
}

type topoObject struct {
	Type       string       `json:"type"`
	Geometries []topoObject `json:"geometries"`
	Arcs       json.RawMessage
}

// decodeTopo decodes the polygons of one object of a TopoJSON topology.
func decodeTopo(data []byte, object string) ([]polygon, error) {
	var t topology
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("land data: %w", err)
	}
	if t.Type != "Topology" {
		return nil, fmt.Errorf("land data: type %q is not Topology", t.Type)
	}
	// Decode every arc to positions once.
	arcs := make([][]Point, len(t.Arcs))
	for i, a := range t.Arcs {
		var x, y float64
		pts := make([]Point, len(a))
		for j, p := range a {
			if t.Transform != nil {
				x, y = x+p[0], y+p[1]
				pts[j] = Point{Lon: x*t.Transform.Scale[0] + t.Transform.Translate[0], Lat: y*t.Transform.Scale[1] + t.Transform.Translate[1]}
			} else {
				pts[j] = Point{Lon: p[0], Lat: p[1]}
			}
		}
		arcs[i] = pts
	}
	ringOf := func(ids []int) (ring, error) {
		var r ring
		for k, id := range ids {
			rev := id < 0
			if rev {
				id = ^id
			}
			if id >= len(arcs) {
				return ring{}, fmt.Errorf("land data: arc %d of %d", id, len(arcs))
			}
			a := arcs[id]
			for j := range a {
				p := a[j]
				if rev {
					p = a[len(a)-1-j]
				}
				// Consecutive arcs share their end points.
				if k > 0 && j == 0 {
					continue
				}
				r.pts = append(r.pts, p)
			}
		}
		r.bound()
		return r, nil
	}
	obj, ok := t.Objects[object]
	if !ok {
		return nil, fmt.Errorf("land data: no object %q", object)
	}
	geoms := obj.Geometries
	if obj.Type != "GeometryCollection" {
		geoms = []topoObject{obj}
	}
	var out []polygon
	for _, g := range geoms {
		var polys [][][]int
		switch g.Type {
		case "Polygon":
			var p [][]int
			if err := json.Unmarshal(g.Arcs, &p); err != nil {
				return nil, fmt.Errorf("land data: polygon: %w", err)
			}
			polys = [][][]int{p}
		case "MultiPolygon":
			if err := json.Unmarshal(g.Arcs, &polys); err != nil {
				return nil, fmt.Errorf("land data: multipolygon: %w", err)
			}
		default:
			continue
		}
		for _, p := range polys {
			var poly polygon
			for _, ids := range p {
				r, err := ringOf(ids)
				if err != nil {
					return nil, err
				}
				poly = append(poly, r)
			}
			out = append(out, poly)
		}
	}
	return out, nil
}

func (r *ring) bound() {
	r.south, r.north, r.west, r.east = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, p := range r.pts {
		r.south, r.north = math.Min(r.south, p.Lat), math.Max(r.north, p.Lat)
		r.west, r.east = math.Min(r.west, p.Lon), math.Max(r.east, p.Lon)
	}
}
