//! Line charts rendered to PNG for `argus eval --plot` and `argus train --plot`: a training
//! curve (validation ROC-AUC per epoch or tree count), ROC curves and precision-recall curves.
//!
//! The charts are drawn by a small software rasteriser with anti-aliased lines and a built-in
//! 5x7 bitmap font, so the binary needs no system fonts (a plotting crate's bitmap backend only
//! draws text through TrueType fonts found at run time or shipped with it). The `png` crate
//! encodes the image.

/// One named line of points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Legend text; a series with an empty name is drawn but left out of the legend.
    pub name: String,
    /// `(x, y)` points in drawing order. Points with a non-finite coordinate are skipped and
    /// their neighbours joined, so one NaN epoch does not break a curve in two.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineChart {
    /// Title centred above the plot; empty for none.
    pub title: String,
    /// Label under the x axis; empty for none.
    pub x_label: String,
    /// Label along the y axis, reading upwards; empty for none.
    pub y_label: String,
    /// Fixed x axis range `(min, max)`; `None` (or an empty or non-finite range) fits the data
    /// with a small margin.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y axis range `(min, max)`; `None` (or an empty or non-finite range) fits the data
    /// with a small margin.
    pub y_range: Option<(f64, f64)>,
    /// The lines, coloured in order from a fixed palette that repeats after ten series.
    pub series: Vec<Series>,
    /// Draw the y = x diagonal as a dashed grey line (the chance line of a ROC curve).
    pub diagonal: bool,
}

impl LineChart {
    /// Renders the chart to an RGB image of `width` x `height` pixels (at least 1 x 1) and
    /// encodes it as PNG bytes.
    #[cfg(test)]
    fn to_png(&self, width: u32, height: u32) -> Vec<u8> {
        encode_png(&self.render(width as usize, height as usize))
    }

    fn render(&self, width: usize, height: usize) -> Canvas {
        let mut canvas = Canvas::new(width.max(1), height.max(1));
        self.draw(&mut canvas);
        canvas
    }

    /// Draws the whole chart onto a white canvas of the chart's size.
    fn draw(&self, canvas: &mut Canvas) {
        let (w, h) = (canvas.width as i64, canvas.height as i64);
        // Text at scale 2 from about 640x400 up; smaller images keep the 5x7 glyphs.
        let s: i64 = if w >= 640 && h >= 400 { 2 } else { 1 };
        let pad = 5 * s;
        let tick_len = 3 * s;
        let row_h = GLYPH_H * s;

        let finite: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|series| series.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let x_axis = Axis::new(self.x_range, finite.iter().map(|p| p.0));
        let y_axis = Axis::new(self.y_range, finite.iter().map(|p| p.1));

        // Margins are sized from the text they have to hold.
        let y_tick_w = y_axis
            .ticks
            .iter()
            .map(|(_, label)| text_width(label, s))
            .max()
            .unwrap_or(0);
        let last_x_tick_w = x_axis
            .ticks
            .last()
            .map_or(0, |(_, label)| text_width(label, s));
        // Titles go up a size earlier than the rest so mid-sized charts still have a heading.
        let title_s = if w >= 400 && h >= 240 { 2 } else { s };
        let title_h = if self.title.is_empty() {
            0
        } else {
            GLYPH_H * title_s + pad
        };
        let y_label_w = if self.y_label.is_empty() {
            0
        } else {
            row_h + pad
        };
        let x_label_h = if self.x_label.is_empty() {
            0
        } else {
            pad + row_h
        };
        let top = pad + title_h + 4 * s;
        let left = pad + y_label_w + y_tick_w + 2 * s + tick_len + 1;
        let bottom = 1 + tick_len + 2 * s + row_h + x_label_h + pad;
        let right = (2 * pad).max(last_x_tick_w / 2 + pad);

        let title_x = ((w - text_width(&self.title, title_s)) / 2).max(pad);
        draw_text(canvas, title_x, pad, &self.title, title_s, TEXT);

        let plot = Rect {
            x0: left,
            y0: top,
            x1: w - right,
            y1: h - bottom,
        };
        if plot.width() < 16 || plot.height() < 16 {
            // Too small for a plot; the title alone is the most that can be shown.
            return;
        }
        // Data limits map a few pixels inside the frame so lines on the range edges (a ROC
        // curve along x = 0 or y = 1) are not hidden under it.
        let inset = (2 * s + 2) as f64;
        let map = Mapping {
            x: (x_axis.lo, x_axis.hi),
            y: (y_axis.lo, y_axis.hi),
            w: plot.width() as f64,
            h: plot.height() as f64,
            inset,
        };

        // Grid lines at the ticks.
        for (v, _) in &x_axis.ticks {
            let col = plot.x0 + map.x(*v).floor() as i64;
            canvas.fill_rect(col, plot.y0, 1, plot.height(), GRID);
        }
        for (v, _) in &y_axis.ticks {
            let row = plot.y0 + map.y(*v).floor() as i64;
            canvas.fill_rect(plot.x0, row, plot.width(), 1, GRID);
        }

        let (pw, ph) = (plot.width() as usize, plot.height() as usize);
        if self.diagonal {
            let lo = x_axis.lo.min(y_axis.lo);
            let hi = x_axis.hi.max(y_axis.hi);
            let mut cover = Coverage::new(pw, ph);
            let a = (map.x(lo), map.y(lo));
            let b = (map.x(hi), map.y(hi));
            cover.dashed(a, b, 0.5 * s as f64 + 0.25, (6 * s) as f64, (4 * s) as f64);
            cover.composite(canvas, &plot, DIAGONAL);
        }

        // Each series goes through its own coverage buffer (maximum over its segments) so the
        // joints of a polyline are not blended twice; `ink` keeps the union for the legend.
        let half_width = if s == 2 { 1.25 } else { 1.0 };
        let mut ink = Coverage::new(pw, ph);
        for (i, series) in self.series.iter().enumerate() {
            let mut cover = Coverage::new(pw, ph);
            let mut points = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| (map.x(x), map.y(y)));
            if let Some(first) = points.next() {
                let mut prev = first;
                // A single point still shows as a dot: a zero-length segment is a disc.
                cover.segment(prev, prev, half_width);
                for p in points {
                    cover.segment(prev, p, half_width);
                    prev = p;
                }
            }
            cover.composite(canvas, &plot, palette(i));
            ink.max_with(&cover);
        }

        // Frame and ticks.
        let frame = Rect {
            x0: plot.x0 - 1,
            y0: plot.y0 - 1,
            x1: plot.x1 + 1,
            y1: plot.y1 + 1,
        };
        canvas.stroke_rect(&frame, AXIS);
        let label_top = plot.y1 + 1 + tick_len + 2 * s;
        for (v, label) in &x_axis.ticks {
            let col = plot.x0 + map.x(*v).floor() as i64;
            canvas.fill_rect(col, plot.y1 + 1, 1, tick_len, AXIS);
            let x = col - text_width(label, s) / 2;
            draw_text(canvas, x, label_top, label, s, TEXT);
        }
        for (v, label) in &y_axis.ticks {
            let row = plot.y0 + map.y(*v).floor() as i64;
            canvas.fill_rect(plot.x0 - 1 - tick_len, row, tick_len, 1, AXIS);
            let x = plot.x0 - 1 - tick_len - 2 * s - text_width(label, s);
            // Centre the digits' 7-row cap height on the tick.
            draw_text(canvas, x, row - (7 * s) / 2, label, s, TEXT);
        }

        // Axis labels, centred on the plot area.
        let x_label_x = plot.x0 + (plot.width() - text_width(&self.x_label, s)) / 2;
        draw_text(
            canvas,
            x_label_x,
            label_top + row_h + pad,
            &self.x_label,
            s,
            TEXT,
        );
        let y_label_bottom = plot.y0 + (plot.height() + text_width(&self.y_label, s)) / 2;
        draw_text_up(canvas, pad, y_label_bottom, &self.y_label, s, TEXT);

        self.draw_legend(canvas, &plot, &ink, s);
    }

    /// Draws the legend box in the plot corner that hides the least of the lines.
    fn draw_legend(&self, canvas: &mut Canvas, plot: &Rect, ink: &Coverage, s: i64) {
        let entries: Vec<(usize, &str)> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, series)| !series.name.is_empty())
            .map(|(i, series)| (i, series.name.as_str()))
            .collect();
        if entries.is_empty() {
            return;
        }
        let pad = 4 * s;
        let line_gap = 3 * s;
        let swatch = 12 * s;
        let name_w = entries
            .iter()
            .map(|(_, name)| text_width(name, s))
            .max()
            .unwrap_or(0);
        let box_w = pad + swatch + 3 * s + name_w + pad;
        let n = entries.len() as i64;
        let box_h = pad + n * GLYPH_H * s + (n - 1) * line_gap + pad;
        let m = 3 * s + 2;
        let (left, right) = (plot.x0 + m, plot.x1 - m - box_w);
        let (top, bottom) = (plot.y0 + m, plot.y1 - m - box_h);
        // Preference order on ties: top right, bottom right, top left, bottom left.
        let corners = [(right, top), (right, bottom), (left, top), (left, bottom)];
        let (x, y) = corners
            .iter()
            .copied()
            .min_by(|a, b| {
                let ink_a = ink.sum(a.0 - plot.x0, a.1 - plot.y0, box_w, box_h);
                let ink_b = ink.sum(b.0 - plot.x0, b.1 - plot.y0, box_w, box_h);
                ink_a.total_cmp(&ink_b)
            })
            .unwrap_or((left, top));
        let (x, y) = (x.max(plot.x0), y.max(plot.y0));
        canvas.fill_rect(x, y, box_w, box_h, WHITE);
        let border = Rect {
            x0: x,
            y0: y,
            x1: x + box_w,
            y1: y + box_h,
        };
        canvas.stroke_rect(&border, LEGEND_BORDER);
        for (row, (i, name)) in entries.iter().enumerate() {
            let ty = y + pad + row as i64 * (GLYPH_H * s + line_gap);
            let colour = palette(*i);
            // The swatch sits at the middle of the cap height.
            canvas.fill_rect(x + pad, ty + 3 * s - s / 2, swatch, s + 1, colour);
            draw_text(canvas, x + pad + swatch + 3 * s, ty, name, s, colour);
        }
    }
}

/// Renders several charts side by side in one image (for example ROC and precision-recall next
/// to each other), each `width` x `height` pixels, and encodes it as PNG bytes. No charts give
/// one blank `width` x `height` image.
///
/// # Panics
///
/// If the combined width does not fit in a `u32`.
pub fn charts_to_png(charts: &[LineChart], width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    let count = charts.len().max(1);
    u32::try_from(w * count).expect("combined chart width fits in a u32");
    let mut canvas = Canvas::new(w * count, h);
    for (i, chart) in charts.iter().enumerate() {
        canvas.blit(&chart.render(w, h), i * w);
    }
    encode_png(&canvas)
}

// ---------------------------------------------------------------------------------------------
// Axes

/// An axis range with its labelled ticks.
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn new(fixed: Option<(f64, f64)>, values: impl Iterator<Item = f64>) -> Axis {
        let (lo, hi) = axis_range(fixed, values);
        Axis {
            lo,
            hi,
            ticks: ticks(lo, hi),
        }
    }
}

/// The fixed range when it is usable, else the finite values' range widened by 5% each side.
fn axis_range(fixed: Option<(f64, f64)>, values: impl Iterator<Item = f64>) -> (f64, f64) {
    if let Some((lo, hi)) = fixed {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            return (lo, hi);
        }
    }
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    if lo == hi {
        // A flat series still needs a range to sit in the middle of.
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let margin = (hi - lo) * 0.05;
    let (a, b) = (lo - margin, hi + margin);
    if a.is_finite() && b.is_finite() {
        (a, b)
    } else {
        (lo, hi)
    }
}

/// About five ticks at multiples of 1, 2 or 5 times a power of ten, with labels.
fn ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm < 1.5 {
            1.0
        } else if norm < 3.0 {
            2.0
        } else if norm < 7.0 {
            5.0
        } else {
            10.0
        };
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let scientific = step < 1e-4 || lo.abs().max(hi.abs()) >= 1e6;
    let decimals = (-(step.log10() + 1e-9).floor()).clamp(0.0, 10.0) as usize;
    let mut out = Vec::new();
    // The tolerance keeps a range edge that is a multiple of the step from losing its tick
    // to rounding (0.6 / 0.2 is not exactly 3).
    let mut k = (lo / step - 1e-9).ceil();
    // The count cap also ends the loop when `k + 1.0 == k` for extreme ranges.
    while out.len() < 12 {
        let mut v = k * step;
        if v > hi + step * 1e-9 {
            break;
        }
        if v.abs() < step * 1e-6 {
            v = 0.0; // no "-0.0" labels
        }
        let label = if scientific {
            format_scientific(v)
        } else {
            format!("{v:.decimals$}")
        };
        out.push((v, label));
        k += 1.0;
    }
    out
}

/// `2.5e-5`, `1e6`: three significant digits at most, trailing zeros dropped.
fn format_scientific(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let text = format!("{v:.2e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        _ => text,
    }
}

/// Data coordinates to plot-local pixel coordinates (y grows downwards).
struct Mapping {
    x: (f64, f64),
    y: (f64, f64),
    w: f64,
    h: f64,
    inset: f64,
}

impl Mapping {
    fn x(&self, v: f64) -> f64 {
        self.inset + (v - self.x.0) / (self.x.1 - self.x.0) * (self.w - 2.0 * self.inset)
    }

    fn y(&self, v: f64) -> f64 {
        self.h - self.inset - (v - self.y.0) / (self.y.1 - self.y.0) * (self.h - 2.0 * self.inset)
    }
}

// ---------------------------------------------------------------------------------------------
// Raster

type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const TEXT: Rgb = [30, 30, 30];
const AXIS: Rgb = [60, 60, 60];
const GRID: Rgb = [232, 232, 232];
const DIAGONAL: Rgb = [140, 140, 140];
const LEGEND_BORDER: Rgb = [170, 170, 170];

/// Matplotlib's "tab10" colours: distinct, readable on white, and familiar from other reports.
const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

fn palette(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// A half-open pixel rectangle `[x0, x1) x [y0, y1)`.
struct Rect {
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
}

impl Rect {
    fn width(&self) -> i64 {
        self.x1 - self.x0
    }

    fn height(&self) -> i64 {
        self.y1 - self.y0
    }
}

/// An RGB image, row-major, 3 bytes a pixel. Drawing outside it is clipped silently.
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            rgb: vec![255; width * height * 3],
        }
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        let inside = x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height;
        inside.then(|| (y as usize * self.width + x as usize) * 3)
    }

    #[cfg(test)]
    fn pixel(&self, x: i64, y: i64) -> Rgb {
        let i = self.index(x, y).expect("pixel inside the canvas");
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, colour: Rgb) {
        let (x0, y0) = (x.max(0), y.max(0));
        let x1 = (x + w).min(self.width as i64);
        let y1 = (y + h).min(self.height as i64);
        for yy in y0..y1 {
            for xx in x0..x1 {
                let i = (yy as usize * self.width + xx as usize) * 3;
                self.rgb[i..i + 3].copy_from_slice(&colour);
            }
        }
    }

    /// A one-pixel outline just inside `r`.
    fn stroke_rect(&mut self, r: &Rect, colour: Rgb) {
        let (w, h) = (r.width(), r.height());
        self.fill_rect(r.x0, r.y0, w, 1, colour);
        self.fill_rect(r.x0, r.y1 - 1, w, 1, colour);
        self.fill_rect(r.x0, r.y0, 1, h, colour);
        self.fill_rect(r.x1 - 1, r.y0, 1, h, colour);
    }

    /// Mixes `colour` into the pixel with weight `alpha` in `[0, 1]`.
    fn blend(&mut self, x: i64, y: i64, colour: Rgb, alpha: f32) {
        if let Some(i) = self.index(x, y) {
            for (dst, src) in self.rgb[i..i + 3].iter_mut().zip(colour) {
                let mixed = f32::from(*dst) * (1.0 - alpha) + f32::from(src) * alpha;
                *dst = mixed.round().clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// Copies `other` in with its left edge at column `x`.
    fn blit(&mut self, other: &Canvas, x: usize) {
        let rows = other.height.min(self.height);
        let cols = other.width.min(self.width.saturating_sub(x));
        for y in 0..rows {
            let src = y * other.width * 3;
            let dst = (y * self.width + x) * 3;
            self.rgb[dst..dst + cols * 3].copy_from_slice(&other.rgb[src..src + cols * 3]);
        }
    }
}

/// Per-pixel line coverage over the plot area, in `[0, 1]`.
struct Coverage {
    w: usize,
    h: usize,
    a: Vec<f32>,
}

impl Coverage {
    fn new(w: usize, h: usize) -> Coverage {
        Coverage {
            w,
            h,
            a: vec![0.0; w * h],
        }
    }

    /// Adds an anti-aliased segment of half-width `hw` with round caps, in local pixel
    /// coordinates (pixel `(i, j)` covers `[i, i + 1) x [j, j + 1)`).
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), hw: f64) {
        let reach = hw + 1.0;
        let bounds = (-reach, -reach, self.w as f64 + reach, self.h as f64 + reach);
        let Some((a, b)) = clip_segment(a, b, bounds) else {
            return;
        };
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        // Walk the major axis; at each step only a band across the line can be covered.
        let steep = dy.abs() > dx.abs();
        let (major_a, major_b, d_major, d_minor, minor_a) = if steep {
            (a.1, b.1, dy, dx, a.0)
        } else {
            (a.0, b.0, dx, dy, a.1)
        };
        let (major_len, minor_len) = if steep {
            (self.h, self.w)
        } else {
            (self.w, self.h)
        };
        let band = reach * std::f64::consts::SQRT_2 + 1.0;
        let first = (major_a.min(major_b) - reach).floor().max(0.0) as i64;
        let last = (major_a.max(major_b) + reach)
            .ceil()
            .min(major_len as f64 - 1.0) as i64;
        for m in first..=last {
            let centre = m as f64 + 0.5;
            let t = if d_major.abs() > 1e-12 {
                ((centre - major_a) / d_major).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let c = minor_a + t * d_minor;
            let lo = (c - band).floor().max(0.0) as i64;
            let hi = (c + band).ceil().min(minor_len as f64 - 1.0) as i64;
            for n in lo..=hi {
                let (x, y) = if steep { (n, m) } else { (m, n) };
                let p = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 {
                    (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (p.0 - (a.0 + t * dx), p.1 - (a.1 + t * dy));
                let dist = (ex * ex + ey * ey).sqrt();
                let cover = (hw + 0.5 - dist).clamp(0.0, 1.0) as f32;
                let cell = &mut self.a[y as usize * self.w + x as usize];
                *cell = cell.max(cover);
            }
        }
    }

    /// A dashed segment: `on` pixels drawn, `off` pixels skipped, clipped to the area first so
    /// the pattern starts at the visible end.
    fn dashed(&mut self, a: (f64, f64), b: (f64, f64), hw: f64, on: f64, off: f64) {
        let bounds = (0.0, 0.0, self.w as f64, self.h as f64);
        let Some((a, b)) = clip_segment(a, b, bounds) else {
            return;
        };
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len <= 0.0 {
            return;
        }
        let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let mut d = 0.0;
        while d < len {
            let e = (d + on).min(len);
            self.segment(
                (a.0 + ux * d, a.1 + uy * d),
                (a.0 + ux * e, a.1 + uy * e),
                hw,
            );
            d += on + off;
        }
    }

    fn max_with(&mut self, other: &Coverage) {
        for (a, b) in self.a.iter_mut().zip(&other.a) {
            *a = a.max(*b);
        }
    }

    /// Total coverage inside a rectangle (clipped to the area).
    fn sum(&self, x: i64, y: i64, w: i64, h: i64) -> f32 {
        let (x0, y0) = (x.max(0) as usize, y.max(0) as usize);
        let x1 = (x + w).clamp(0, self.w as i64) as usize;
        let y1 = (y + h).clamp(0, self.h as i64) as usize;
        (y0..y1)
            .map(|row| {
                self.a[row * self.w + x0.min(x1)..row * self.w + x1]
                    .iter()
                    .sum::<f32>()
            })
            .sum()
    }

    /// Blends `colour` onto the canvas inside `plot` with this coverage as alpha.
    fn composite(&self, canvas: &mut Canvas, plot: &Rect, colour: Rgb) {
        for (i, &alpha) in self.a.iter().enumerate() {
            if alpha > 0.0 {
                let (x, y) = ((i % self.w) as i64, (i / self.w) as i64);
                canvas.blend(plot.x0 + x, plot.y0 + y, colour, alpha);
            }
        }
    }
}

/// Liang-Barsky clipping of segment `a`-`b` to `(x0, y0, x1, y1)`; `None` when it misses or
/// has a non-finite coordinate (data far outside a fixed range can overflow the mapping).
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    (x0, y0, x1, y1): (f64, f64, f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    let clipped = (
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    );
    (t0 <= t1).then_some(clipped)
}

// ---------------------------------------------------------------------------------------------
// Text

/// Glyph cell height in font pixels: 7 rows above the baseline and 1 descender row.
const GLYPH_H: i64 = 8;
/// Horizontal advance in font pixels: 5 columns and 1 of spacing.
const ADVANCE: i64 = 6;

/// Width in pixels of `text` drawn at `scale` (no trailing spacing).
fn text_width(text: &str, scale: i64) -> i64 {
    let n = text.chars().count() as i64;
    if n == 0 {
        0
    } else {
        (n * ADVANCE - 1) * scale
    }
}

/// The glyph for `c`; characters outside printable ASCII show as `?`.
fn glyph(c: char) -> &'static [u8; 8] {
    let code = c as usize;
    if (32..127).contains(&code) {
        &FONT[code - 32]
    } else {
        &FONT[b'?' as usize - 32]
    }
}

/// Draws `text` left to right with its top-left corner at `(x, y)`.
fn draw_text(canvas: &mut Canvas, x: i64, y: i64, text: &str, scale: i64, colour: Rgb) {
    for (i, c) in text.chars().enumerate() {
        let gx = x + i as i64 * ADVANCE * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0b10000 >> col) != 0 {
                    let (px, py) = (gx + col * scale, y + row as i64 * scale);
                    canvas.fill_rect(px, py, scale, scale, colour);
                }
            }
        }
    }
}

/// Draws `text` rotated a quarter turn anticlockwise, reading upwards from `(x, bottom)`, with
/// the glyph tops towards `x`.
fn draw_text_up(canvas: &mut Canvas, x: i64, bottom: i64, text: &str, scale: i64, colour: Rgb) {
    for (i, c) in text.chars().enumerate() {
        let along = i as i64 * ADVANCE * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (0b10000 >> col) != 0 {
                    let px = x + row as i64 * scale;
                    let py = bottom - along - (col + 1) * scale;
                    canvas.fill_rect(px, py, scale, scale, colour);
                }
            }
        }
    }
}

/// 5x7 glyphs (plus one descender row) for ASCII 32..=126, one byte a row, bit 4 the leftmost
/// column. Capitals and digits use rows 0-6; lower case has its x-height from row 2 and
/// descenders (g, j, p, q, y, and the comma) reach row 7.
#[rustfmt::skip]
const FONT: [[u8; 8]; 95] = [
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // ' '
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100, 0b00000], // !
    [0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // "
    [0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010, 0b00000], // #
    [0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100, 0b00000], // $
    [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011, 0b00000], // %
    [0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101, 0b00000], // &
    [0b00100, 0b00100, 0b01000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // '
    [0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010, 0b00000], // (
    [0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000, 0b00000], // )
    [0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000, 0b00000], // *
    [0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000, 0b00000], // +
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000], // ,
    [0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000, 0b00000], // -
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100, 0b00000], // .
    [0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000, 0b00000], // /
    [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110, 0b00000], // 0
    [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // 1
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000], // 2
    [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110, 0b00000], // 3
    [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010, 0b00000], // 4
    [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110, 0b00000], // 5
    [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110, 0b00000], // 6
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00000], // 7
    [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110, 0b00000], // 8
    [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100, 0b00000], // 9
    [0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000, 0b00000], // :
    [0b00000, 0b01100, 0b01100, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000], // ;
    [0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00000], // <
    [0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000], // =
    [0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000, 0b00000], // >
    [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100, 0b00000], // ?
    [0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110, 0b00000], // @
    [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000], // A
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110, 0b00000], // B
    [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000], // C
    [0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100, 0b00000], // D
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111, 0b00000], // E
    [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000], // F
    [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111, 0b00000], // G
    [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0b00000], // H
    [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // I
    [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100, 0b00000], // J
    [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001, 0b00000], // K
    [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111, 0b00000], // L
    [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001, 0b00000], // M
    [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001, 0b00000], // N
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // O
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000, 0b00000], // P
    [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101, 0b00000], // Q
    [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001, 0b00000], // R
    [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110, 0b00000], // S
    [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000], // T
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // U
    [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000], // V
    [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010, 0b00000], // W
    [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001, 0b00000], // X
    [0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00000], // Y
    [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111, 0b00000], // Z
    [0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110, 0b00000], // [
    [0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000, 0b00000], // \
    [0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110, 0b00000], // ]
    [0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // ^
    [0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111, 0b00000], // _
    [0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000], // `
    [0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111, 0b00000], // a
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110, 0b00000], // b
    [0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110, 0b00000], // c
    [0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111, 0b00000], // d
    [0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110, 0b00000], // e
    [0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000, 0b00000], // f
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // g
    [0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000], // h
    [0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // i
    [0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100], // j
    [0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b00000], // k
    [0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0b00000], // l
    [0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001, 0b00000], // m
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001, 0b00000], // n
    [0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110, 0b00000], // o
    [0b00000, 0b00000, 0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000], // p
    [0b00000, 0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b00001], // q
    [0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000, 0b00000], // r
    [0b00000, 0b00000, 0b01111, 0b10000, 0b01110, 0b00001, 0b11110, 0b00000], // s
    [0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110, 0b00000], // t
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101, 0b00000], // u
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00000], // v
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010, 0b00000], // w
    [0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b00000], // x
    [0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110], // y
    [0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111, 0b00000], // z
    [0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010, 0b00000], // {
    [0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000], // |
    [0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000, 0b00000], // }
    [0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000, 0b00000], // ~
];

// ---------------------------------------------------------------------------------------------
// PNG

/// Encodes the canvas as an 8-bit RGB PNG: signature, IHDR, one zlib-compressed IDAT of the
/// rows (each prefixed with filter type 0), IEND.
///
/// # Panics
///
/// If a side does not fit in a `u32` (callers check the combined width).
fn encode_png(canvas: &Canvas) -> Vec<u8> {
    let side = |n: usize| u32::try_from(n).expect("image side fits in a u32");
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side(canvas.width), side(canvas.height));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .expect("encoding into memory does not fail");
    writer
        .write_image_data(&canvas.rgb)
        .expect("the canvas holds width x height RGB pixels");
    writer.finish().expect("encoding into memory does not fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG with the `png` crate's reader (which checks the signature and every
    /// chunk's CRC) and returns `(width, height, RGB pixels)`.
    fn decode(data: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(data))
            .read_info()
            .unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Rgb);
        assert_eq!(frame.bit_depth, png::BitDepth::Eight);
        rgb.truncate(frame.buffer_size());
        (frame.width, frame.height, rgb)
    }

    fn roc_chart() -> LineChart {
        // A smooth concave curve and a slightly worse one, as a ROC plot would show.
        let curve = |p: f64| -> Vec<(f64, f64)> {
            (0..=200)
                .map(|i| {
                    let x = f64::from(i) / 200.0;
                    (x, x.powf(p))
                })
                .collect()
        };
        LineChart {
            title: "ROC curve (validation)".into(),
            x_label: "False positive rate".into(),
            y_label: "True positive rate".into(),
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
            series: vec![
                Series {
                    name: "GraphSAGE AUC=0.912".into(),
                    points: curve(0.12),
                },
                Series {
                    name: "GBDT AUC=0.874".into(),
                    points: curve(0.2),
                },
            ],
            diagonal: true,
        }
    }

    fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn png_structure_and_pixels_round_trip() {
        let chart = roc_chart();
        let canvas = chart.render(320, 240);
        let png = encode_png(&canvas);
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (320, 240));
        assert_eq!(rgb, canvas.rgb);
        assert_eq!(chart.to_png(320, 240), png);
    }

    #[test]
    fn random_image_round_trips() {
        let canvas = Canvas {
            width: 97,
            height: 31,
            rgb: random_bytes(97 * 31 * 3, 7),
        };
        let (w, h, rgb) = decode(&encode_png(&canvas));
        assert_eq!((w, h), (97, 31));
        assert_eq!(rgb, canvas.rgb);
    }

    #[test]
    fn series_line_is_drawn_where_mapped() {
        let chart = LineChart {
            x_range: Some((0.0, 10.0)),
            y_range: Some((0.0, 1.0)),
            series: vec![Series {
                name: "flat".into(),
                points: vec![(0.0, 0.25), (f64::NAN, 0.5), (10.0, 0.25)],
            }],
            ..LineChart::default()
        };
        let canvas = chart.render(400, 300);
        // Find the plot frame's left edge
        // (tick marks are horizontal, so a long vertical run of axis colour is the frame).
        let frame_x = (0..400)
            .find(|&x| (100..200).all(|y| canvas.pixel(x, y) == AXIS))
            .unwrap();
        // Along the x range the line at y = 0.25 must be series-coloured at some pixel of
        // each column; the NaN point in between is skipped, not a gap.
        let blue = PALETTE[0];
        let mut hits = 0;
        for x in (frame_x + 10..frame_x + 250).step_by(7) {
            let coloured = (0..300).any(|y| {
                let p = canvas.pixel(x, y);
                p == blue
            });
            hits += usize::from(coloured);
        }
        assert!(hits >= 30, "line found in only {hits} sampled columns");
        // The line sits at a quarter of the height above the bottom of the frame.
        let x = frame_x + 100;
        let rows: Vec<i64> = (0..300).filter(|&y| canvas.pixel(x, y) == blue).collect();
        let bottom = (0..300)
            .rev()
            .find(|&y| canvas.pixel(x, y) == AXIS)
            .unwrap();
        let top = (0..300).find(|&y| canvas.pixel(x, y) == AXIS).unwrap();
        let expected = bottom as f64 - 0.25 * (bottom - top) as f64;
        let mean = rows.iter().sum::<i64>() as f64 / rows.len() as f64;
        assert!(
            (mean - expected).abs() < 5.0,
            "line at {mean}, expected near {expected}"
        );
    }

    #[test]
    fn chart_png_is_small() {
        let png = roc_chart().to_png(800, 600);
        assert!(png.len() < 200_000, "800x600 chart is {} bytes", png.len());
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (800, 600));
        assert_eq!(rgb, roc_chart().render(800, 600).rgb);
    }

    #[test]
    fn side_by_side_charts() {
        let roc = roc_chart();
        let pr = LineChart {
            title: "Precision-recall".into(),
            diagonal: false,
            ..roc_chart()
        };
        let png = charts_to_png(&[roc.clone(), pr], 300, 200);
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (600, 200));
        let left = roc.render(300, 200);
        for y in 0..200 {
            assert_eq!(
                &rgb[y * 1800..y * 1800 + 900],
                &left.rgb[y * 900..(y + 1) * 900]
            );
        }
        let (w, h, _) = decode(&charts_to_png(&[], 50, 40));
        assert_eq!((w, h), (50, 40));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let odd = LineChart {
            title: "Ünïcödé title that is far too long for the image".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_range: Some((1.0, 1.0)),
            y_range: Some((f64::NAN, 2.0)),
            series: vec![
                Series {
                    name: "nan".into(),
                    points: vec![(f64::NAN, f64::INFINITY); 3],
                },
                Series {
                    name: "point".into(),
                    points: vec![(3.0, 3.0)],
                },
                Series {
                    name: String::new(),
                    points: vec![(-1e300, 1e300), (1e300, -1e300)],
                },
            ],
            diagonal: true,
        };
        for (w, h) in [(0, 0), (1, 1), (10, 10), (60, 40), (200, 150), (1000, 700)] {
            let (pw, ph, _) = decode(&odd.to_png(w, h));
            assert_eq!((pw, ph), (w.max(1), h.max(1)));
            decode(&LineChart::default().to_png(w, h));
        }
        let out_of_range = LineChart {
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.0)),
            series: vec![Series {
                name: "far".into(),
                points: vec![(-1e200, 0.5), (1e200, 0.5), (0.5, f64::MAX)],
            }],
            ..LineChart::default()
        };
        decode(&out_of_range.to_png(200, 150));
    }

    #[test]
    fn ticks_are_round_numbers() {
        let labels = |lo, hi| -> Vec<String> { ticks(lo, hi).into_iter().map(|t| t.1).collect() };
        assert_eq!(labels(0.0, 1.0), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(labels(0.55, 20.45), ["5", "10", "15", "20"]);
        assert_eq!(
            labels(-0.1, 0.1),
            ["-0.10", "-0.05", "0.00", "0.05", "0.10"]
        );
        assert_eq!(labels(0.0, 5e6), ["0", "1e6", "2e6", "3e6", "4e6", "5e6"]);
        assert_eq!(labels(0.0, 1e-4)[1], "2e-5");
        assert!(ticks(1.0, 1.0).is_empty());
        assert!(ticks(f64::NEG_INFINITY, 1.0).is_empty());
        assert!(ticks(1e17, 1e17 + 100.0).len() <= 12);
    }

    /// Writes the ROC chart and a side-by-side pair under the system temporary directory for a
    /// look by eye: `cargo test -p argus-cli --bin argus plot::tests::write_sample -- --ignored`.
    #[test]
    #[ignore = "writes files for manual inspection"]
    fn write_sample() {
        let dir = std::env::temp_dir();
        std::fs::write(dir.join("plot_check.png"), roc_chart().to_png(800, 600)).unwrap();
        let epochs: Vec<f64> = (1..=30).map(f64::from).collect();
        let training = LineChart {
            title: "Training".into(),
            x_label: "epoch".into(),
            y_label: "value".into(),
            series: vec![
                Series {
                    name: "loss".into(),
                    points: epochs
                        .iter()
                        .map(|&e| (e, 0.7 * (-e / 8.0).exp() + 0.1))
                        .collect(),
                },
                Series {
                    name: "val ROC-AUC".into(),
                    points: epochs
                        .iter()
                        .map(|&e| (e, 0.9 - 0.35 * (-e / 5.0).exp()))
                        .collect(),
                },
            ],
            ..LineChart::default()
        };
        std::fs::write(dir.join("plot_training.png"), training.to_png(800, 600)).unwrap();
        let pr = LineChart {
            title: "Precision-recall [test]".into(),
            x_label: "Recall".into(),
            y_label: "Precision".into(),
            series: vec![Series {
                name: "AP=0.71 (n=1,234; <5% fraud)".into(),
                points: (0..=100)
                    .map(|i| {
                        let r = f64::from(i) / 100.0;
                        (r, 1.0 - 0.9 * r.powi(3))
                    })
                    .collect(),
            }],
            x_range: Some((0.0, 1.0)),
            y_range: Some((0.0, 1.05)),
            ..LineChart::default()
        };
        let both = charts_to_png(&[roc_chart(), pr], 480, 360);
        std::fs::write(dir.join("plot_pair.png"), both).unwrap();
        let font = LineChart {
            title: "ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(),
            x_label: "abcdefghijklmnopqrstuvwxyz 0123456789".into(),
            y_label: ".,-+:()[]%/_=<>!?'\"#$&*;@\\^`{|}~".into(),
            series: vec![Series {
                name: "The quick brown fox jumps over the lazy dog.".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
            }],
            ..LineChart::default()
        };
        std::fs::write(dir.join("plot_font.png"), font.to_png(640, 400)).unwrap();
    }
}
