//! dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1`,
//! Davis King), evaluated from its own file.
//!
//! The network, as dlib's `dnn_face_recognition_ex.cpp` declares it: a
//! 150×150 RGB chip; a 7×7 convolution (32 filters, stride 2), affine,
//! ReLU, 3×3 max-pool (stride 2); fourteen residual units of two 3×3
//! convolutions with affine layers (32, 64, 128, 256, 256 filters; the
//! first unit of each new width halves the size with a stride-2
//! convolution, its shortcut a 2×2 average pool); a global average pool;
//! a 128×256 matrix: the 128-dimensional descriptor.
//!
//! Each affine layer (a frozen batch norm) is folded into the convolution
//! before it. A residual sum whose two sides differ in size is taken over
//! the larger, the missing values counted as zero (dlib's `add_prev`).

use super::dlib::{FormatError, Reader};

/// The side of the square face chip the network reads.
pub const CHIP_SIDE: usize = 150;

/// Length of a descriptor.
pub const DESCRIPTOR_LEN: usize = 128;

/// A C×H×W block of activations.
#[derive(Clone)]
pub(crate) struct Planes {
    channels: usize,
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Planes {
    fn zeros(channels: usize, rows: usize, cols: usize) -> Self {
        Planes {
            channels,
            rows,
            cols,
            data: vec![0.0; channels * rows * cols],
        }
    }

    fn at(&self, c: usize, r: usize, col: usize) -> f32 {
        self.data[(c * self.rows + r) * self.cols + col]
    }

    fn relu(mut self) -> Self {
        for v in &mut self.data {
            *v = v.max(0.0);
        }
        self
    }
}

/// A convolution with its affine layer folded in.
struct Conv {
    filters: usize,
    inputs: usize,
    side: usize,
    stride: usize,
    padding: usize,
    /// filters × (inputs·side·side), row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Conv {
    fn forward(&self, input: &Planes) -> Planes {
        assert_eq!(input.channels, self.inputs, "convolution input channels");
        let out_rows = 1 + (input.rows + 2 * self.padding - self.side) / self.stride;
        let out_cols = 1 + (input.cols + 2 * self.padding - self.side) / self.stride;
        let n = out_rows * out_cols;
        let k = self.inputs * self.side * self.side;
        // im2col: one row per (channel, ky, kx), one column per output pixel.
        let mut columns = vec![0.0f32; k * n];
        for c in 0..self.inputs {
            for ky in 0..self.side {
                for kx in 0..self.side {
                    let row = &mut columns[((c * self.side + ky) * self.side + kx) * n..][..n];
                    for oy in 0..out_rows {
                        let y = (oy * self.stride + ky) as isize - self.padding as isize;
                        if y < 0 || y >= input.rows as isize {
                            continue;
                        }
                        let line =
                            &input.data[(c * input.rows + y as usize) * input.cols..][..input.cols];
                        let out = &mut row[oy * out_cols..][..out_cols];
                        if self.stride == 1 {
                            // A run of the input line, shifted by kx − padding.
                            let shift = kx as isize - self.padding as isize;
                            let first = (-shift).max(0) as usize;
                            let last = (input.cols as isize - shift).min(out_cols as isize);
                            if last > first as isize {
                                let last = last as usize;
                                let from = (first as isize + shift) as usize;
                                out[first..last].copy_from_slice(&line[from..from + last - first]);
                            }
                            continue;
                        }
                        for (ox, slot) in out.iter_mut().enumerate() {
                            let x = (ox * self.stride + kx) as isize - self.padding as isize;
                            if x >= 0 && (x as usize) < input.cols {
                                *slot = line[x as usize];
                            }
                        }
                    }
                }
            }
        }
        let mut output = Planes::zeros(self.filters, out_rows, out_cols);
        for (f, plane) in output.data.chunks_exact_mut(n).enumerate() {
            plane.fill(self.bias[f]);
        }
        // SAFETY: the three matrices are the slices above, with the sizes
        // and strides given (row-major, m = filters, k, n).
        unsafe {
            matrixmultiply::sgemm(
                self.filters,
                k,
                n,
                1.0,
                self.weights.as_ptr(),
                k as isize,
                1,
                columns.as_ptr(),
                n as isize,
                1,
                1.0,
                output.data.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        output
    }
}

/// A pooling window (dlib's `max_pool_` / `avg_pool_`).
struct Pool {
    side: usize,
    stride: usize,
}

impl Pool {
    fn output_side(&self, input: usize) -> usize {
        1 + (input - self.side) / self.stride
    }

    fn max(&self, input: &Planes) -> Planes {
        self.apply(input, |values| values.fold(f32::NEG_INFINITY, f32::max))
    }

    fn average(&self, input: &Planes) -> Planes {
        let count = (self.side * self.side) as f32;
        self.apply(input, |values| values.sum::<f32>() / count)
    }

    fn apply(
        &self,
        input: &Planes,
        reduce: impl Fn(&mut dyn Iterator<Item = f32>) -> f32,
    ) -> Planes {
        let rows = self.output_side(input.rows);
        let cols = self.output_side(input.cols);
        let mut output = Planes::zeros(input.channels, rows, cols);
        for c in 0..input.channels {
            for r in 0..rows {
                for col in 0..cols {
                    let mut values = (0..self.side).flat_map(|dy| {
                        (0..self.side).map(move |dx| {
                            input.at(c, r * self.stride + dy, col * self.stride + dx)
                        })
                    });
                    output.data[(c * rows + r) * cols + col] = reduce(&mut values);
                }
            }
        }
        output
    }
}

/// Element-wise sum over the larger of two shapes, zeros where one side
/// has no value (dlib's `add_prev`).
fn add_padded(a: &Planes, b: &Planes) -> Planes {
    let (channels, rows, cols) = (
        a.channels.max(b.channels),
        a.rows.max(b.rows),
        a.cols.max(b.cols),
    );
    let mut output = Planes::zeros(channels, rows, cols);
    for side in [a, b] {
        for c in 0..side.channels {
            for r in 0..side.rows {
                for col in 0..side.cols {
                    output.data[(c * rows + r) * cols + col] += side.at(c, r, col);
                }
            }
        }
    }
    output
}

/// One residual unit: two convolutions; `shortcut`: the 2×2 average pool of
/// a unit that halves the size.
struct Residual {
    first: Conv,
    second: Conv,
    shortcut: Option<Pool>,
}

/// The whole network, ready to run.
pub(crate) struct FaceNet {
    mean_rgb: [f32; 3],
    stem: Conv,
    stem_pool: Pool,
    units: Vec<Residual>,
    /// 128 rows of 256: descriptor = projection · pooled features.
    projection: Vec<f32>,
    features: usize,
}

/// A layer as the file lists it, bottom-up.
enum Layer {
    Conv {
        shape: [usize; 4],
        stride: usize,
        padding: usize,
        params: Vec<f32>,
    },
    Affine {
        params: Vec<f32>,
    },
    Relu,
    MaxPool(Pool),
    AvgPool(Option<Pool>),
    AddPrev,
    Fc {
        outputs: usize,
        inputs: usize,
        params: Vec<f32>,
    },
}

const LAYER_NAMES: [&str; 7] = [
    "con_4",
    "affine_",
    "relu_",
    "max_pool_2",
    "avg_pool_2",
    "add_prev_",
    "fc_2",
];

fn read_layers(reader: &mut Reader<'_>) -> Result<(Vec<Layer>, [f32; 3]), FormatError> {
    if reader.next_of(&["input_rgb_image_sized"]).is_none() {
        return Err(reader.error("no input layer"));
    }
    let mean_rgb = [
        reader.float()? as f32,
        reader.float()? as f32,
        reader.float()? as f32,
    ];
    let (rows, cols) = (reader.count()?, reader.count()?);
    if (rows, cols) != (CHIP_SIDE, CHIP_SIDE) {
        return Err(reader.error(format!("an input of {rows}×{cols}")));
    }
    let mut layers = Vec::new();
    while let Some(name) = reader.next_of(&LAYER_NAMES) {
        layers.push(match name {
            "con_4" => {
                let (_, params) = reader.tensor()?;
                let filters = reader.count()?;
                let (side_y, side_x) = (reader.count()?, reader.count()?);
                let (stride_y, stride_x) = (reader.count()?, reader.count()?);
                let (padding_y, padding_x) = (reader.count()?, reader.count()?);
                let shape = reader.alias()?;
                let bias = reader.alias()?;
                if side_y != side_x || stride_y != stride_x || padding_y != padding_x {
                    return Err(reader.error("a convolution that is not square"));
                }
                if shape[0] != filters
                    || shape[2] != side_y
                    || shape[3] != side_x
                    || bias[1] != filters
                    || params.len() != shape.iter().product::<usize>() + filters
                {
                    return Err(reader.error(format!("a convolution of shape {shape:?}")));
                }
                Layer::Conv {
                    shape,
                    stride: stride_y,
                    padding: padding_y,
                    params,
                }
            }
            "affine_" => {
                let (_, params) = reader.tensor()?;
                let gamma = reader.alias()?;
                let beta = reader.alias()?;
                if gamma != beta || params.len() != 2 * gamma[1] {
                    return Err(reader.error("an affine layer of mismatched sizes"));
                }
                Layer::Affine { params }
            }
            "relu_" => Layer::Relu,
            "add_prev_" => Layer::AddPrev,
            "max_pool_2" | "avg_pool_2" => {
                let (side_y, side_x) = (reader.count()?, reader.count()?);
                let (stride_y, stride_x) = (reader.count()?, reader.count()?);
                let (padding_y, padding_x) = (reader.count()?, reader.count()?);
                if side_y != side_x || stride_y != stride_x || padding_y != 0 || padding_x != 0 {
                    return Err(reader.error("a pooling layer this network does not have"));
                }
                let pool = (side_y > 0).then_some(Pool {
                    side: side_y,
                    stride: stride_y,
                });
                if name == "max_pool_2" {
                    Layer::MaxPool(pool.ok_or_else(|| reader.error("a global max-pool"))?)
                } else {
                    Layer::AvgPool(pool)
                }
            }
            "fc_2" => {
                let outputs = reader.count()?;
                let inputs = reader.count()?;
                let (_, params) = reader.tensor()?;
                if params.len() != outputs * inputs {
                    return Err(reader.error("a projection of the wrong size"));
                }
                Layer::Fc {
                    outputs,
                    inputs,
                    params,
                }
            }
            _ => unreachable!("LAYER_NAMES"),
        });
    }
    Ok((layers, mean_rgb))
}

/// A convolution followed by its affine layer, folded:
/// `γ·(w·x + b) + β = (γw)·x + (γb + β)`.
fn fold(conv: Layer, affine: Layer) -> Option<Conv> {
    let (
        Layer::Conv {
            shape,
            stride,
            padding,
            params,
        },
        Layer::Affine { params: affine },
    ) = (conv, affine)
    else {
        return None;
    };
    let [filters, inputs, side, _] = shape;
    if affine.len() != 2 * filters {
        return None;
    }
    let per_filter = inputs * side * side;
    let (gamma, beta) = affine.split_at(filters);
    let (weights, bias) = params.split_at(filters * per_filter);
    Some(Conv {
        filters,
        inputs,
        side,
        stride,
        padding,
        weights: weights
            .chunks_exact(per_filter)
            .zip(gamma)
            .flat_map(|(row, g)| row.iter().map(move |w| w * g))
            .collect(),
        bias: bias
            .iter()
            .zip(gamma.iter().zip(beta))
            .map(|(b, (g, beta))| g * b + beta)
            .collect(),
    })
}

impl FaceNet {
    /// Reads `dlib_face_recognition_resnet_model_v1.dat`.
    pub(crate) fn from_dlib(bytes: &[u8]) -> Result<FaceNet, FormatError> {
        let mut reader = Reader::new(bytes);
        let (layers, mean_rgb) = read_layers(&mut reader)?;
        let wrong = |what: &str| FormatError {
            at: 0,
            what: format!("the layers are not dlib's face ResNet: {what}"),
        };
        let mut layers = layers.into_iter();
        let mut next = || layers.next().ok_or_else(|| wrong("too few layers"));
        let conv_affine = |conv: Layer, affine: Layer| {
            fold(conv, affine).ok_or_else(|| wrong("a convolution without its affine layer"))
        };
        let stem = conv_affine(next()?, next()?)?;
        let (Layer::Relu, Layer::MaxPool(stem_pool)) = (next()?, next()?) else {
            return Err(wrong("the stem"));
        };
        let mut units = Vec::new();
        let (features, outputs, projection) = loop {
            match next()? {
                conv @ Layer::Conv { .. } => {
                    let first = conv_affine(conv, next()?)?;
                    let Layer::Relu = next()? else {
                        return Err(wrong("a unit without its ReLU"));
                    };
                    let second = conv_affine(next()?, next()?)?;
                    let shortcut = match next()? {
                        Layer::AvgPool(Some(pool)) => {
                            let Layer::AddPrev = next()? else {
                                return Err(wrong("a shortcut without its sum"));
                            };
                            Some(pool)
                        }
                        Layer::AddPrev => None,
                        _ => return Err(wrong("a unit without its sum")),
                    };
                    let Layer::Relu = next()? else {
                        return Err(wrong("a unit without its last ReLU"));
                    };
                    units.push(Residual {
                        first,
                        second,
                        shortcut,
                    });
                }
                Layer::AvgPool(None) => match next()? {
                    Layer::Fc {
                        outputs,
                        inputs,
                        params,
                    } => break (inputs, outputs, params),
                    _ => return Err(wrong("the head")),
                },
                _ => return Err(wrong("an unexpected layer")),
            }
        };
        if outputs != DESCRIPTOR_LEN || next().is_ok() {
            return Err(wrong("the head"));
        }
        // dlib stores the projection inputs × outputs; keep it outputs × inputs.
        let mut transposed = vec![0.0; projection.len()];
        for i in 0..features {
            for o in 0..outputs {
                transposed[o * features + i] = projection[i * outputs + o];
            }
        }
        Ok(FaceNet {
            mean_rgb,
            stem,
            stem_pool,
            units,
            projection: transposed,
            features,
        })
    }

    /// The descriptor of a 150×150 RGB chip (row-major, 3 bytes a pixel).
    pub(crate) fn describe(&self, chip_rgb: &[u8]) -> [f32; DESCRIPTOR_LEN] {
        assert_eq!(
            chip_rgb.len(),
            CHIP_SIDE * CHIP_SIDE * 3,
            "a 150×150 RGB chip"
        );
        let mut input = Planes::zeros(3, CHIP_SIDE, CHIP_SIDE);
        let plane = CHIP_SIDE * CHIP_SIDE;
        for (i, pixel) in chip_rgb.chunks_exact(3).enumerate() {
            for c in 0..3 {
                input.data[c * plane + i] = (f32::from(pixel[c]) - self.mean_rgb[c]) / 256.0;
            }
        }
        let mut x = self.stem_pool.max(&self.stem.forward(&input).relu());
        for unit in &self.units {
            let inner = unit.second.forward(&unit.first.forward(&x).relu());
            let shortcut = match &unit.shortcut {
                Some(pool) => pool.average(&x),
                None => x,
            };
            x = add_padded(&inner, &shortcut).relu();
        }
        assert_eq!(x.channels, self.features, "features before the projection");
        let area = (x.rows * x.cols) as f32;
        let pooled: Vec<f32> = x
            .data
            .chunks_exact(x.rows * x.cols)
            .map(|plane| plane.iter().sum::<f32>() / area)
            .collect();
        let mut descriptor = [0.0f32; DESCRIPTOR_LEN];
        for (o, slot) in descriptor.iter_mut().enumerate() {
            *slot = self.projection[o * self.features..][..self.features]
                .iter()
                .zip(&pooled)
                .map(|(w, v)| w * v)
                .sum();
        }
        descriptor
    }
}
