//! dlib's 5-point face landmarks (`shape_predictor_5_face_landmarks.dat`,
//! Davis King): the outer and inner corner of each eye and the bottom of
//! the nose, found by a cascade of regression-tree forests (Kazemi and
//! Sullivan, "One Millisecond Face Alignment", 2014) from a face's box.
//!
//! Evaluated as dlib's `shape_predictor` does: start from the mean shape in
//! the box's unit square; at each cascade read the grey value of a few
//! hundred pixels placed relative to the current shape, walk every tree by
//! pixel differences, and add the leaves' shape updates.

use super::dlib::{FormatError, Reader};

/// How many landmarks the model finds.
pub const POINTS: usize = 5;

/// A point in image pixels (or, inside the predictor, in the box's unit square).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A face's box: dlib's rectangle, corners inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceRect {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl FaceRect {
    fn to_image_f64(&self, p: Point) -> (f64, f64) {
        let (left, top) = (f64::from(self.left), f64::from(self.top));
        (
            left + f64::from(p.x) * (f64::from(self.right) - left),
            top + f64::from(p.y) * (f64::from(self.bottom) - top),
        )
    }

    fn to_image(&self, p: Point) -> Point {
        Point {
            x: self.left + p.x * (self.right - self.left),
            y: self.top + p.y * (self.bottom - self.top),
        }
    }
}

struct Split {
    first: usize,
    second: usize,
    threshold: f32,
}

struct Tree {
    splits: Vec<Split>,
    /// One shape update (2·POINTS values) per leaf.
    leaves: Vec<[f32; 2 * POINTS]>,
}

struct Cascade {
    trees: Vec<Tree>,
    /// Each feature pixel: the shape point it hangs from and its offset.
    anchors: Vec<usize>,
    offsets: Vec<Point>,
}

/// The landmark model, ready to run.
pub(crate) struct Landmarker {
    mean_shape: [f32; 2 * POINTS],
    cascades: Vec<Cascade>,
}

fn float_matrix(reader: &mut Reader<'_>) -> Result<Vec<f32>, FormatError> {
    // dlib writes a matrix's sides negated (its newer format), then the values.
    let rows = -reader.int()?;
    let cols = -reader.int()?;
    if rows < 0 || cols < 0 || rows * cols > 1 << 20 {
        return Err(reader.error(format!("a matrix of {rows}×{cols}")));
    }
    (0..rows * cols)
        .map(|_| Ok(reader.float()? as f32))
        .collect()
}

fn shape_vector(reader: &mut Reader<'_>) -> Result<[f32; 2 * POINTS], FormatError> {
    float_matrix(reader)?
        .try_into()
        .map_err(|values: Vec<f32>| reader.error(format!("a shape of {} values", values.len())))
}

/// The length of a list, bounded so a broken file cannot ask for a huge allocation.
fn list_len(reader: &mut Reader<'_>, max: usize) -> Result<usize, FormatError> {
    let len = reader.count()?;
    if len > max {
        return Err(reader.error(format!("a list of {len}")));
    }
    Ok(len)
}

impl Landmarker {
    /// Reads `shape_predictor_5_face_landmarks.dat`.
    pub(crate) fn from_dlib(bytes: &[u8]) -> Result<Landmarker, FormatError> {
        let mut reader = Reader::new(bytes);
        let version = reader.int()?;
        if version != 1 {
            return Err(reader.error(format!("shape predictor version {version}")));
        }
        let mean_shape = shape_vector(&mut reader)?;
        let forests = list_len(&mut reader, 64)?;
        let mut trees_of = Vec::with_capacity(forests);
        for _ in 0..forests {
            let trees = list_len(&mut reader, 10_000)?;
            let mut forest = Vec::with_capacity(trees);
            for _ in 0..trees {
                let splits = (0..list_len(&mut reader, 1 << 16)?)
                    .map(|_| {
                        Ok(Split {
                            first: reader.count()?,
                            second: reader.count()?,
                            threshold: reader.float()? as f32,
                        })
                    })
                    .collect::<Result<Vec<_>, FormatError>>()?;
                let leaves = (0..list_len(&mut reader, 1 << 17)?)
                    .map(|_| shape_vector(&mut reader))
                    .collect::<Result<Vec<_>, _>>()?;
                if leaves.len() != splits.len() + 1 {
                    return Err(reader.error("a tree whose leaves do not match its splits"));
                }
                forest.push(Tree { splits, leaves });
            }
            trees_of.push(forest);
        }
        let anchor_lists = list_len(&mut reader, 64)?;
        let anchors = (0..anchor_lists)
            .map(|_| {
                (0..list_len(&mut reader, 1 << 16)?)
                    .map(|_| {
                        let anchor = reader.count()?;
                        if anchor >= POINTS {
                            return Err(reader.error(format!("anchor point {anchor}")));
                        }
                        Ok(anchor)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let offset_lists = list_len(&mut reader, 64)?;
        let offsets = (0..offset_lists)
            .map(|_| {
                (0..list_len(&mut reader, 1 << 16)?)
                    .map(|_| {
                        Ok(Point {
                            x: reader.float()? as f32,
                            y: reader.float()? as f32,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        if anchors.len() != forests || offsets.len() != forests {
            return Err(reader.error("cascades without their feature pixels"));
        }
        let mut cascades = Vec::with_capacity(forests);
        for ((trees, anchors), offsets) in trees_of.into_iter().zip(anchors).zip(offsets) {
            if anchors.len() != offsets.len() {
                return Err(reader.error("feature pixels without their anchors"));
            }
            let pixels = anchors.len();
            let in_range = |split: &Split| split.first < pixels && split.second < pixels;
            if !trees.iter().all(|tree| tree.splits.iter().all(in_range)) {
                return Err(reader.error("a split on a pixel the cascade does not read"));
            }
            cascades.push(Cascade {
                trees,
                anchors,
                offsets,
            });
        }
        Ok(Landmarker {
            mean_shape,
            cascades,
        })
    }

    /// The five landmarks of the face in `rect` of a grey image
    /// (`width`×`height`, one byte a pixel: dlib's intensity, (r+g+b)/3).
    pub(crate) fn locate(
        &self,
        grey: &[u8],
        width: usize,
        height: usize,
        rect: FaceRect,
    ) -> [Point; POINTS] {
        assert_eq!(grey.len(), width * height, "grey image size");
        let mut shape = self.mean_shape;
        let mut values = Vec::new();
        for cascade in &self.cascades {
            // The similarity transform taking the mean shape to the current one.
            let [a, b] = similarity(&self.mean_shape, &shape);
            values.clear();
            values.extend(
                cascade
                    .anchors
                    .iter()
                    .zip(&cascade.offsets)
                    .map(|(anchor, d)| {
                        let local = Point {
                            x: a * d.x - b * d.y + shape[2 * anchor],
                            y: b * d.x + a * d.y + shape[2 * anchor + 1],
                        };
                        // In double precision, as dlib maps to the image; rounded
                        // to the nearest pixel; outside the image: 0.
                        let (x, y) = rect.to_image_f64(local);
                        let (x, y) = ((x + 0.5).floor(), (y + 0.5).floor());
                        if x >= 0.0 && y >= 0.0 && (x as usize) < width && (y as usize) < height {
                            f32::from(grey[y as usize * width + x as usize])
                        } else {
                            0.0
                        }
                    }),
            );
            for tree in &cascade.trees {
                let mut node = 0;
                while node < tree.splits.len() {
                    let split = &tree.splits[node];
                    node = if values[split.first] - values[split.second] > split.threshold {
                        2 * node + 1
                    } else {
                        2 * node + 2
                    };
                }
                for (s, update) in shape.iter_mut().zip(&tree.leaves[node - tree.splits.len()]) {
                    *s += update;
                }
            }
        }
        std::array::from_fn(|i| {
            rect.to_image(Point {
                x: shape[2 * i],
                y: shape[2 * i + 1],
            })
        })
    }
}

/// The rotation-and-scale part `[a, b]` (the matrix `[[a, −b], [b, a]]`)
/// of the least-squares similarity transform from the points of `from` to
/// those of `to` (dlib's `find_similarity_transform`, which for a proper
/// rotation has this closed form).
fn similarity(from: &[f32; 2 * POINTS], to: &[f32; 2 * POINTS]) -> [f32; 2] {
    let n = POINTS as f64;
    let mean = |s: &[f32; 2 * POINTS], k: usize| {
        (0..POINTS).map(|i| f64::from(s[2 * i + k])).sum::<f64>() / n
    };
    let (fx, fy, tx, ty) = (mean(from, 0), mean(from, 1), mean(to, 0), mean(to, 1));
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for i in 0..POINTS {
        let (ux, uy) = (f64::from(from[2 * i]) - fx, f64::from(from[2 * i + 1]) - fy);
        let (vx, vy) = (f64::from(to[2 * i]) - tx, f64::from(to[2 * i + 1]) - ty);
        dot += ux * vx + uy * vy;
        cross += ux * vy - uy * vx;
        norm += ux * ux + uy * uy;
    }
    if norm == 0.0 {
        return [1.0, 0.0];
    }
    [(dot / norm) as f32, (cross / norm) as f32]
}
