//! The CUDA backend: the [`Backend`] operations on an NVIDIA GPU through `cudarc`.
//!
//! Everything is loaded at run time (`cudarc`'s dynamic loading): a binary built with the `cuda`
//! feature starts on a machine without CUDA and simply finds no GPU ([`Cuda::new`] returns an
//! error instead of failing to start). Kernels are CUDA C in `kernels.cu`, compiled once per
//! process with NVRTC for the device's architecture; GEMMs go through cuBLAS in full `f32`
//! (no TF32), so results agree with the CPU backend to rounding.
//!
//! Tensors live in a pool of device buffers: training allocates the same shapes every step, and
//! a freed buffer goes back to the pool for the next tensor of its size class instead of to the
//! driver. All work is queued on one stream, so a buffer reused right after it was freed is only
//! written after the work that read it. A tensor's [`Clone`] shares its buffer; an operation
//! that writes a shared buffer copies it first.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};

use super::backend::{AdamW, Aggregation, Backend, LayerNormCache};
use super::matrix::Matrix;
use super::relation::Relation;

/// The kernel source, compiled at run time.
pub const KERNEL_SOURCE: &str = include_str!("kernels.cu");

/// Every kernel of [`KERNEL_SOURCE`], loaded when the backend starts.
pub const KERNEL_NAMES: &[&str] = &[
    "gather_rows_vec4",
    "gather_rows_scalar",
    "add_assign",
    "add_row",
    "bias_relu",
    "relu",
    "relu_backward",
    "mul",
    "scale",
    "dropout_mask",
    "dropout_residual",
    "layer_norm",
    "layer_norm_backward",
    "column_partial_sums",
    "sum_partials",
    "bce_terms",
    "adamw",
];

const LAYER_NORM_EPS: f32 = 1e-5;
const THREADS: u32 = 256;
const WARPS_PER_BLOCK: u32 = THREADS / 32;
/// Rows per block of the first column-sum stage.
const COLUMN_CHUNK: usize = 1024;
/// Device memory the pool may keep idle before it frees buffers back to the driver.
const POOL_IDLE_LIMIT: usize = 16 << 30;

/// Why the GPU cannot be used, or a failed device call (with the operation it was for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaError(pub String);

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CudaError {}

fn fail(what: &str, e: impl fmt::Debug) -> CudaError {
    CudaError(format!("CUDA {what}: {e:?}"))
}

/// A device call that cannot return an error through the [`Backend`] interface: a failure there
/// (out of memory, a lost device) leaves no sensible result, so it stops with the call named.
fn check<T, E: fmt::Debug>(what: &str, r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("CUDA {what} failed: {e:?}"),
    }
}

/// Compile every kernel with NVRTC for `arch` (e.g. `sm_90`), or NVRTC's default architecture.
pub fn compile_kernels(arch: Option<&'static str>) -> Result<Ptx, CudaError> {
    let options = CompileOptions {
        arch,
        name: Some("argus_kernels.cu".into()),
        ..Default::default()
    };
    compile_ptx_with_opts(KERNEL_SOURCE, options).map_err(|e| fail("kernel compilation", e))
}

/// Whether an NVRTC library can be loaded (it is what compiles the kernels).
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to open the library by name.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Launch kernel `$name` over `$n` elements (nothing for none) with the given arguments.
/// Callers pass buffers of at least `$n` elements and the kernel's own sizes.
macro_rules! launch {
    ($self:expr, $name:literal, $n:expr, $($arg:expr),+ $(,)?) => {{
        let n: usize = $n;
        if n > 0 {
            let mut builder = $self.stream.launch_builder($self.kernels.get($name));
            $( builder.arg($arg); )+
            // SAFETY: see the macro's contract: every buffer holds the elements the kernel
            // indexes.
            check($name, unsafe { builder.launch($self.grid(n)) });
        }
    }};
}

/// Idle device buffers by size class, reused before asking the driver for more.
struct Pool {
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    idle: HashMap<usize, Vec<CudaSlice<f32>>>,
    idle_bytes: usize,
    hits: u64,
    misses: u64,
}

/// Round an element count up to its size class: a multiple of 256 elements below 64 Ki, then
/// eight classes per power of two, so varying batch sizes still find idle buffers.
fn size_class(len: usize) -> usize {
    let len = len.max(1);
    if len <= 1 << 16 {
        return len.div_ceil(256) * 256;
    }
    let step = 1usize << (usize::BITS - 1 - len.leading_zeros() - 3);
    len.div_ceil(step) * step
}

impl Pool {
    fn take(&self, class: usize) -> Option<CudaSlice<f32>> {
        let mut state = self.state.lock().expect("pool lock");
        let found = state.idle.get_mut(&class).and_then(Vec::pop);
        match &found {
            Some(_) => {
                state.hits += 1;
                state.idle_bytes -= class * 4;
            }
            None => state.misses += 1,
        }
        found
    }

    fn give_back(&self, slice: CudaSlice<f32>) {
        let mut state = self.state.lock().expect("pool lock");
        let bytes = slice.len() * 4;
        if state.idle_bytes + bytes > POOL_IDLE_LIMIT {
            return; // dropped: freed by the driver
        }
        state.idle_bytes += bytes;
        state.idle.entry(slice.len()).or_default().push(slice);
    }
}

struct Buffer {
    slice: Option<CudaSlice<f32>>,
    pool: Arc<Pool>,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(slice) = self.slice.take() {
            self.pool.give_back(slice);
        }
    }
}

/// A row-major `f32` matrix in device memory.
#[derive(Clone)]
pub struct CudaTensor {
    rows: usize,
    cols: usize,
    buffer: Arc<Buffer>,
}

impl CudaTensor {
    fn len(&self) -> usize {
        self.rows * self.cols
    }

    fn slice(&self) -> &CudaSlice<f32> {
        self.buffer.slice.as_ref().expect("live buffer")
    }
}

/// A [`Relation`]'s adjacency in device memory (both directions, for forward and backward).
pub struct CudaGraph {
    target_count: usize,
    source_count: usize,
    messages: usize,
    offsets: CudaSlice<u32>,
    sources: CudaSlice<u32>,
    reverse_offsets: CudaSlice<u32>,
    targets: CudaSlice<u32>,
}

struct Kernels {
    functions: HashMap<&'static str, CudaFunction>,
}

impl Kernels {
    fn get(&self, name: &str) -> &CudaFunction {
        self.functions
            .get(name)
            .unwrap_or_else(|| panic!("kernel {name} is not loaded"))
    }
}

/// Pool statistics: how often a tensor found an idle buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Allocations served from idle buffers.
    pub hits: u64,
    /// Allocations that went to the driver.
    pub misses: u64,
    /// Bytes held idle now.
    pub idle_bytes: usize,
}

/// The CUDA device (GPU 0), with its stream, cuBLAS handle, kernels and buffer pool.
pub struct Cuda {
    context: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    kernels: Kernels,
    pool: Arc<Pool>,
    sm_count: u32,
    name: String,
}

impl Cuda {
    /// Open GPU 0: load the driver, cuBLAS and NVRTC, compile and load the kernels. Fails with
    /// the reason when a library or a device is missing.
    pub fn new() -> Result<Cuda, CudaError> {
        // SAFETY: only tries to open the libraries by name.
        let present = unsafe {
            (
                cudarc::driver::sys::is_culib_present(),
                cudarc::cublas::sys::is_culib_present(),
                cudarc::nvrtc::sys::is_culib_present(),
            )
        };
        match present {
            (false, _, _) => return Err(CudaError("no CUDA driver (libcuda) found".into())),
            (_, false, _) => return Err(CudaError("no cuBLAS library found".into())),
            (_, _, false) => return Err(CudaError("no NVRTC library found".into())),
            _ => {}
        }
        // A library of the wrong version panics inside cudarc when a symbol is missing.
        std::panic::catch_unwind(Cuda::open)
            .unwrap_or_else(|_| Err(CudaError("the CUDA libraries could not be used".into())))
    }

    fn open() -> Result<Cuda, CudaError> {
        let devices = CudaContext::device_count().map_err(|e| fail("device count", e))?;
        if devices < 1 {
            return Err(CudaError("no CUDA device".into()));
        }
        let context = CudaContext::new(0).map_err(|e| fail("context", e))?;
        let stream = context.default_stream();
        let blas = CudaBlas::new(stream.clone()).map_err(|e| fail("cuBLAS handle", e))?;
        let (major, minor) = context
            .compute_capability()
            .map_err(|e| fail("compute capability", e))?;
        let ptx = compile_kernels(Some(arch_name(major, minor)))?;
        let module = context
            .load_module(ptx)
            .map_err(|e| fail("module load", e))?;
        let mut functions = HashMap::new();
        for &name in KERNEL_NAMES {
            let f = module
                .load_function(name)
                .map_err(|e| fail(&format!("kernel {name}"), e))?;
            functions.insert(name, f);
        }
        let sm_count = context
            .attribute(
                cudarc::driver::sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
            )
            .map_err(|e| fail("attribute", e))? as u32;
        let name = context.name().map_err(|e| fail("device name", e))?;
        Ok(Cuda {
            context,
            stream,
            blas,
            kernels: Kernels { functions },
            pool: Arc::new(Pool {
                state: Mutex::new(PoolState::default()),
            }),
            sm_count,
            name: format!("{name} (sm_{major}{minor})"),
        })
    }

    /// The device's name and architecture.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wait until all queued work is done (for timing).
    pub fn synchronize(&self) {
        check("synchronize", self.stream.synchronize());
    }

    /// How the buffer pool has served allocations so far.
    pub fn pool_stats(&self) -> PoolStats {
        let state = self.pool.state.lock().expect("pool lock");
        PoolStats {
            hits: state.hits,
            misses: state.misses,
            idle_bytes: state.idle_bytes,
        }
    }

    /// Free and total device memory in bytes.
    pub fn memory(&self) -> (usize, usize) {
        check("memory info", self.context.mem_get_info())
    }

    /// Milliseconds the device takes to run `f` (timed with events on the stream).
    pub fn time_ms(&self, f: impl FnOnce()) -> f32 {
        let start = check("event", self.context.new_event(None));
        let end = check("event", self.context.new_event(None));
        check("event record", start.record(&self.stream));
        f();
        check("event record", end.record(&self.stream));
        check("event wait", end.synchronize());
        check("event timing", start.elapsed_ms(&end))
    }

    /// Copy `bytes` bytes device to device `times` times and return the rate in bytes per
    /// second, counting each byte read and written: the bandwidth ceiling kernels are held to.
    pub fn copy_rate(&self, bytes: usize, times: usize) -> f64 {
        let n = bytes / 4;
        let src = self.zeros(n, 1);
        let mut dst = self.zeros(n, 1);
        let dst_slice = self.writable(&mut dst);
        check("copy", self.stream.memcpy_dtod(src.slice(), dst_slice));
        let ms = self.time_ms(|| {
            for _ in 0..times {
                check("copy", self.stream.memcpy_dtod(src.slice(), dst_slice));
            }
        });
        (2 * n * 4 * times) as f64 / (ms as f64 / 1000.0)
    }

    fn alloc(&self, rows: usize, cols: usize) -> CudaTensor {
        let class = size_class(rows * cols);
        let slice = match self.pool.take(class) {
            Some(s) => s,
            // SAFETY: every operation writes a tensor's elements before any are read.
            None => check("allocation", unsafe { self.stream.alloc::<f32>(class) }),
        };
        CudaTensor {
            rows,
            cols,
            buffer: Arc::new(Buffer {
                slice: Some(slice),
                pool: self.pool.clone(),
            }),
        }
    }

    /// The tensor's buffer for writing, copied first when another tensor shares it.
    fn writable<'a>(&self, t: &'a mut CudaTensor) -> &'a mut CudaSlice<f32> {
        if Arc::get_mut(&mut t.buffer).is_none() {
            let mut copy = self.alloc(t.rows, t.cols);
            if t.len() > 0 {
                let dst = Arc::get_mut(&mut copy.buffer)
                    .and_then(|b| b.slice.as_mut())
                    .expect("fresh buffer");
                check(
                    "copy",
                    self.stream
                        .memcpy_dtod(&t.slice().slice(0..t.len()), &mut dst.slice_mut(0..t.len())),
                );
            }
            *t = copy;
        }
        Arc::get_mut(&mut t.buffer)
            .and_then(|b| b.slice.as_mut())
            .expect("unshared buffer")
    }

    fn grid(&self, n: usize) -> LaunchConfig {
        let blocks = n
            .div_ceil(THREADS as usize)
            .clamp(1, self.sm_count as usize * 32);
        LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    fn warp_rows(&self, rows: usize) -> LaunchConfig {
        let blocks = rows
            .div_ceil(WARPS_PER_BLOCK as usize)
            .clamp(1, self.sm_count as usize * 256);
        LaunchConfig {
            grid_dim: (blocks as u32, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    /// `out[r] = scale · Σ x[index[j]]` over `offsets[r]..offsets[r+1]`, for `rows` rows.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &self,
        offsets: &CudaSlice<u32>,
        index: &CudaSlice<u32>,
        x: &CudaTensor,
        rows: usize,
        mode: i32,
        degree_offsets: &CudaSlice<u32>,
    ) -> CudaTensor {
        let cols = x.cols;
        let mut out = self.alloc(rows, cols);
        if rows == 0 || cols == 0 {
            return out;
        }
        let kernel = if cols.is_multiple_of(4) {
            "gather_rows_vec4"
        } else {
            "gather_rows_scalar"
        };
        let (rows_u32, cols_u32) = (rows as u32, cols as u32);
        let out_slice = self.writable(&mut out);
        let mut launch = self.stream.launch_builder(self.kernels.get(kernel));
        launch
            .arg(offsets)
            .arg(index)
            .arg(x.slice())
            .arg(out_slice)
            .arg(&rows_u32)
            .arg(&cols_u32)
            .arg(&mode)
            .arg(degree_offsets);
        // SAFETY: offsets has rows + 1 entries, every index is below x.rows (a Relation's
        // invariant, checked when it was uploaded), out holds rows × cols.
        check(kernel, unsafe { launch.launch(self.warp_rows(rows)) });
        out
    }

    /// Column sums of `x` (or of `x ⊙ y`) as a `1 × cols` tensor.
    fn column_sums_of(&self, x: &CudaTensor, y: Option<&CudaTensor>) -> CudaTensor {
        let (rows, cols) = (x.rows, x.cols);
        let mut out = self.alloc(1, cols);
        if cols == 0 {
            return out;
        }
        if rows == 0 {
            return self.zeros(1, cols);
        }
        let parts = rows.div_ceil(COLUMN_CHUNK);
        let mut partial = self.alloc(parts, cols);
        let (rows_u32, cols_u32, chunk, parts_u32) =
            (rows as u32, cols as u32, COLUMN_CHUNK as u32, parts as u32);
        let null: u64 = 0;
        {
            let partial_slice = self.writable(&mut partial);
            let mut launch = self
                .stream
                .launch_builder(self.kernels.get("column_partial_sums"));
            launch.arg(x.slice());
            match y {
                Some(y) => launch.arg(y.slice()),
                None => launch.arg(&null),
            };
            launch
                .arg(partial_slice)
                .arg(&rows_u32)
                .arg(&cols_u32)
                .arg(&chunk);
            let cfg = LaunchConfig {
                grid_dim: (cols.div_ceil(32) as u32, parts as u32, 1),
                block_dim: (32, 8, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: x (and y) hold rows × cols; partial holds parts × cols.
            check("column_partial_sums", unsafe { launch.launch(cfg) });
        }
        let out_slice = self.writable(&mut out);
        let mut launch = self.stream.launch_builder(self.kernels.get("sum_partials"));
        launch
            .arg(partial.slice())
            .arg(out_slice)
            .arg(&parts_u32)
            .arg(&cols_u32);
        // SAFETY: partial holds parts × cols; out holds cols.
        check("sum_partials", unsafe {
            launch.launch(LaunchConfig {
                grid_dim: (cols.div_ceil(256) as u32, 1, 1),
                block_dim: (256, 1, 1),
                shared_mem_bytes: 0,
            })
        });
        out
    }

    /// `c = op(a)·op(b) + beta·c` through cuBLAS, on row-major tensors (computed as the
    /// column-major product of the transposes).
    fn gemm(
        &self,
        a: &CudaTensor,
        transpose_a: bool,
        b: &CudaTensor,
        transpose_b: bool,
        c: &mut CudaTensor,
        beta: f32,
    ) {
        let (m, k) = if transpose_a {
            (a.cols, a.rows)
        } else {
            (a.rows, a.cols)
        };
        let (k2, n) = if transpose_b {
            (b.cols, b.rows)
        } else {
            (b.rows, b.cols)
        };
        assert_eq!(k, k2, "matmul inner dimensions");
        assert_eq!((c.rows, c.cols), (m, n), "matmul output shape");
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            if beta == 0.0 {
                let slice = self.writable(c);
                check("memset", self.stream.memset_zeros(slice));
            }
            return;
        }
        let op = |t: bool| {
            if t {
                cublasOperation_t::CUBLAS_OP_T
            } else {
                cublasOperation_t::CUBLAS_OP_N
            }
        };
        let config = GemmConfig {
            transa: op(transpose_b),
            transb: op(transpose_a),
            m: n as i32,
            n: m as i32,
            k: k as i32,
            alpha: 1.0f32,
            lda: b.cols.max(1) as i32,
            ldb: a.cols.max(1) as i32,
            beta,
            ldc: n as i32,
        };
        let c_slice = self.writable(c);
        // SAFETY: the leading dimensions and sizes above describe buffers of at least the
        // tensors' lengths, and c is not shared with a or b (it was made unshared above).
        check("cuBLAS sgemm", unsafe {
            self.blas.gemm(config, b.slice(), a.slice(), c_slice)
        });
    }
}

/// NVRTC's name for a compute capability.
fn arch_name(major: i32, minor: i32) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<(i32, i32), &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .expect("arch names lock");
    names
        .entry((major, minor))
        .or_insert_with(|| Box::leak(format!("sm_{major}{minor}").into_boxed_str()))
}

fn upload_u32(stream: &Arc<CudaStream>, values: &[u32]) -> CudaSlice<u32> {
    // The driver refuses zero-byte allocations: an empty list keeps one unused element.
    if values.is_empty() {
        return check("upload", stream.clone_htod(&[0u32][..]));
    }
    check("upload", stream.clone_htod(values))
}

impl Backend for Cuda {
    type Tensor = CudaTensor;
    type Graph = CudaGraph;

    fn upload(&self, m: &Matrix) -> CudaTensor {
        let mut t = self.alloc(m.rows, m.cols);
        if !m.data.is_empty() {
            let slice = self.writable(&mut t);
            check(
                "upload",
                self.stream
                    .memcpy_htod(m.data.as_slice(), &mut slice.slice_mut(0..m.data.len())),
            );
        }
        t
    }

    fn download(&self, t: &CudaTensor) -> Matrix {
        if t.len() == 0 {
            return Matrix::zeros(t.rows, t.cols);
        }
        let data = check(
            "download",
            self.stream.clone_dtoh(&t.slice().slice(0..t.len())),
        );
        Matrix::from_vec(t.rows, t.cols, data)
    }

    fn upload_relation(&self, r: &Relation) -> CudaGraph {
        assert_eq!(r.offsets.len(), r.target_count + 1, "relation offsets");
        assert_eq!(
            r.reverse_offsets.len(),
            r.source_count + 1,
            "relation reverse offsets"
        );
        assert!(
            r.sources.iter().all(|&s| (s as usize) < r.source_count)
                && r.targets.iter().all(|&t| (t as usize) < r.target_count),
            "relation indexes within the node counts"
        );
        CudaGraph {
            target_count: r.target_count,
            source_count: r.source_count,
            messages: r.sources.len(),
            offsets: upload_u32(&self.stream, &r.offsets),
            sources: upload_u32(&self.stream, &r.sources),
            reverse_offsets: upload_u32(&self.stream, &r.reverse_offsets),
            targets: upload_u32(&self.stream, &r.targets),
        }
    }

    fn shape(&self, t: &CudaTensor) -> (usize, usize) {
        (t.rows, t.cols)
    }

    fn zeros(&self, rows: usize, cols: usize) -> CudaTensor {
        let mut t = self.alloc(rows, cols);
        let slice = self.writable(&mut t);
        check("memset", self.stream.memset_zeros(slice));
        t
    }

    fn matmul(&self, a: &CudaTensor, ta: bool, b: &CudaTensor, tb: bool) -> CudaTensor {
        let m = if ta { a.cols } else { a.rows };
        let n = if tb { b.rows } else { b.cols };
        let mut c = self.alloc(m, n);
        self.gemm(a, ta, b, tb, &mut c, 0.0);
        c
    }

    fn matmul_add(&self, c: &mut CudaTensor, a: &CudaTensor, ta: bool, b: &CudaTensor, tb: bool) {
        self.gemm(a, ta, b, tb, c, 1.0);
    }

    fn add_row(&self, x: &mut CudaTensor, bias: &CudaTensor) {
        assert_eq!(bias.len(), x.cols, "bias width");
        let (n, cols) = (x.len() as u64, x.cols as u32);
        let len = x.len();
        let xs = self.writable(x);
        launch!(self, "add_row", len, xs, bias.slice(), &n, &cols);
    }

    fn bias_relu(&self, mut x: CudaTensor, bias: &CudaTensor) -> CudaTensor {
        assert_eq!(bias.len(), x.cols, "bias width");
        let (n, cols) = (x.len() as u64, x.cols as u32);
        let len = x.len();
        let xs = self.writable(&mut x);
        launch!(self, "bias_relu", len, xs, bias.slice(), &n, &cols);
        x
    }

    fn column_sums(&self, x: &CudaTensor) -> CudaTensor {
        self.column_sums_of(x, None)
    }

    fn add_assign(&self, a: &mut CudaTensor, b: &CudaTensor) {
        assert_eq!((a.rows, a.cols), (b.rows, b.cols), "add_assign shapes");
        let n = a.len() as u64;
        let len = a.len();
        let s = self.writable(a);
        launch!(self, "add_assign", len, s, b.slice(), &n);
    }

    fn head_rows(&self, x: &CudaTensor, rows: usize) -> CudaTensor {
        assert!(rows <= x.rows, "head_rows beyond the tensor");
        if rows == x.rows {
            return x.clone();
        }
        let mut out = self.alloc(rows, x.cols);
        let len = rows * x.cols;
        if len > 0 {
            let dst = self.writable(&mut out);
            check(
                "copy",
                self.stream
                    .memcpy_dtod(&x.slice().slice(0..len), &mut dst.slice_mut(0..len)),
            );
        }
        out
    }

    fn add_assign_head(&self, a: &mut CudaTensor, b: &CudaTensor) {
        assert!(
            a.cols == b.cols && b.rows <= a.rows,
            "add_assign_head shapes"
        );
        let n = b.len() as u64;
        let len = b.len();
        let s = self.writable(a);
        launch!(self, "add_assign", len, s, b.slice(), &n);
    }

    fn aggregate_rows(
        &self,
        graph: &CudaGraph,
        x: &CudaTensor,
        how: Aggregation,
        rows: usize,
    ) -> CudaTensor {
        assert_eq!(x.rows, graph.source_count, "aggregate input rows");
        assert!(
            rows <= graph.target_count,
            "aggregate rows beyond the targets"
        );
        let mode = match how {
            Aggregation::Mean => 1,
            Aggregation::Sum => 0,
        };
        self.gather(
            &graph.offsets,
            &graph.sources,
            x,
            rows,
            mode,
            &graph.offsets,
        )
    }

    fn message_count(&self, g: &CudaGraph) -> usize {
        g.messages
    }

    fn relu(&self, x: &CudaTensor) -> CudaTensor {
        let mut y = self.alloc(x.rows, x.cols);
        let n = x.len() as u64;
        let ys = self.writable(&mut y);
        launch!(self, "relu", x.len(), x.slice(), ys, &n);
        y
    }

    fn relu_backward(&self, dy: &CudaTensor, y: &CudaTensor) -> CudaTensor {
        assert_eq!((dy.rows, dy.cols), (y.rows, y.cols), "elementwise shapes");
        let mut dx = self.alloc(y.rows, y.cols);
        let n = y.len() as u64;
        let s = self.writable(&mut dx);
        launch!(self, "relu_backward", y.len(), dy.slice(), y.slice(), s, &n);
        dx
    }

    fn mul(&self, a: &CudaTensor, b: &CudaTensor) -> CudaTensor {
        assert_eq!((a.rows, a.cols), (b.rows, b.cols), "elementwise shapes");
        let mut out = self.alloc(a.rows, a.cols);
        let n = a.len() as u64;
        let s = self.writable(&mut out);
        launch!(self, "mul", a.len(), a.slice(), b.slice(), s, &n);
        out
    }

    fn dropout_mask(&self, rows: usize, cols: usize, p: f32, seed: u64) -> CudaTensor {
        let mut mask = self.alloc(rows, cols);
        let keep = 1.0 - p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let n = (rows * cols) as u64;
        let s = self.writable(&mut mask);
        launch!(self, "dropout_mask", rows * cols, s, &n, &p, &scale, &seed);
        mask
    }

    fn dropout_residual(
        &self,
        h: &mut CudaTensor,
        activation: &CudaTensor,
        p: f32,
        seed: u64,
    ) -> CudaTensor {
        assert_eq!(
            (h.rows, h.cols),
            (activation.rows, activation.cols),
            "residual shapes"
        );
        let mut mask = self.alloc(h.rows, h.cols);
        let keep = 1.0 - p;
        let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
        let n = h.len() as u64;
        let len = h.len();
        let ms = self.writable(&mut mask);
        let hs = self.writable(h);
        launch!(
            self,
            "dropout_residual",
            len,
            hs,
            activation.slice(),
            ms,
            &n,
            &p,
            &scale,
            &seed
        );
        mask
    }

    fn layer_norm(
        &self,
        x: &CudaTensor,
        gamma: &CudaTensor,
        beta: &CudaTensor,
    ) -> (CudaTensor, LayerNormCache<CudaTensor>) {
        let (rows, cols) = (x.rows, x.cols);
        let mut normalized = self.alloc(rows, cols);
        let mut out = self.alloc(rows, cols);
        let mut inv_std = self.alloc(rows, 1);
        if rows > 0 && cols > 0 {
            let (r, c, eps) = (rows as u32, cols as u32, LAYER_NORM_EPS);
            let ns = self.writable(&mut normalized);
            let os = self.writable(&mut out);
            let is = self.writable(&mut inv_std);
            let mut launch = self.stream.launch_builder(self.kernels.get("layer_norm"));
            launch
                .arg(x.slice())
                .arg(gamma.slice())
                .arg(beta.slice())
                .arg(ns)
                .arg(os)
                .arg(is)
                .arg(&r)
                .arg(&c)
                .arg(&eps);
            // SAFETY: x, normalized and out hold rows × cols; gamma and beta cols; inv_std rows.
            check("layer_norm", unsafe { launch.launch(self.warp_rows(rows)) });
        }
        (
            out,
            LayerNormCache {
                normalized,
                inv_std,
            },
        )
    }

    fn layer_norm_backward(
        &self,
        dy: &CudaTensor,
        cache: &LayerNormCache<CudaTensor>,
        gamma: &CudaTensor,
    ) -> (CudaTensor, CudaTensor, CudaTensor) {
        let (rows, cols) = (dy.rows, dy.cols);
        let mut dx = self.alloc(rows, cols);
        if rows > 0 && cols > 0 {
            let (r, c) = (rows as u32, cols as u32);
            let s = self.writable(&mut dx);
            let mut launch = self
                .stream
                .launch_builder(self.kernels.get("layer_norm_backward"));
            launch
                .arg(dy.slice())
                .arg(cache.normalized.slice())
                .arg(cache.inv_std.slice())
                .arg(gamma.slice())
                .arg(s)
                .arg(&r)
                .arg(&c);
            // SAFETY: dy, normalized and dx hold rows × cols; inv_std rows; gamma cols.
            check("layer_norm_backward", unsafe {
                launch.launch(self.warp_rows(rows))
            });
        }
        let dgamma = self.column_sums_of(dy, Some(&cache.normalized));
        let dbeta = self.column_sums_of(dy, None);
        (dx, dgamma, dbeta)
    }

    fn aggregate(&self, graph: &CudaGraph, x: &CudaTensor, how: Aggregation) -> CudaTensor {
        self.aggregate_rows(graph, x, how, graph.target_count)
    }

    fn aggregate_backward(
        &self,
        graph: &CudaGraph,
        dy: &CudaTensor,
        how: Aggregation,
    ) -> CudaTensor {
        assert_eq!(dy.rows, graph.target_count, "aggregate gradient rows");
        // A gather over the reverse adjacency: each source row sums its targets' gradients, so
        // no two threads write one row and no atomics are needed.
        let mode = match how {
            Aggregation::Mean => 2,
            Aggregation::Sum => 0,
        };
        self.gather(
            &graph.reverse_offsets,
            &graph.targets,
            dy,
            graph.source_count,
            mode,
            &graph.offsets,
        )
    }

    fn bce_with_logits(
        &self,
        logits: &CudaTensor,
        targets: &CudaTensor,
        weights: &CudaTensor,
    ) -> (f32, CudaTensor) {
        let n = logits.len();
        assert!(targets.len() == n && weights.len() == n, "loss shapes");
        let mut grad = self.alloc(logits.rows, logits.cols);
        if n == 0 {
            return (0.0, grad);
        }
        let mut terms = self.alloc(n, 2);
        {
            let n64 = n as u64;
            let ts = self.writable(&mut terms);
            let gs = self.writable(&mut grad);
            launch!(
                self,
                "bce_terms",
                n,
                logits.slice(),
                targets.slice(),
                weights.slice(),
                ts,
                gs,
                &n64
            );
        }
        let sums = self.download(&self.column_sums_of(&terms, None));
        let (loss, total_weight) = (sums.data[0] as f64, sums.data[1] as f64);
        let norm = if total_weight > 0.0 {
            total_weight
        } else {
            1.0
        };
        let factor = (1.0 / norm) as f32;
        let n64 = n as u64;
        let gs = self.writable(&mut grad);
        launch!(self, "scale", n, gs, &factor, &n64);
        ((loss / norm) as f32, grad)
    }

    fn adamw_step(
        &self,
        param: &mut CudaTensor,
        grad: &CudaTensor,
        m: &mut CudaTensor,
        v: &mut CudaTensor,
        step: u32,
        hp: &AdamW,
    ) {
        let n = param.len();
        assert!(
            grad.len() == n && m.len() == n && v.len() == n,
            "adamw shapes"
        );
        let bias1 = 1.0 - hp.beta1.powi(step as i32);
        let bias2 = 1.0 - hp.beta2.powi(step as i32);
        let n64 = n as u64;
        let ps = self.writable(param);
        let ms = self.writable(m);
        let vs = self.writable(v);
        launch!(
            self,
            "adamw",
            n,
            ps,
            grad.slice(),
            ms,
            vs,
            &n64,
            &hp.lr,
            &hp.beta1,
            &hp.beta2,
            &hp.eps,
            &hp.weight_decay,
            &bias1,
            &bias2
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_cover_the_request_and_repeat() {
        for len in [0, 1, 255, 256, 257, 65_536, 65_537, 1_000_000, 123_456_789] {
            let class = size_class(len);
            assert!(class >= len.max(1));
            assert_eq!(size_class(class), class, "a class is its own class");
            assert!(class <= len.max(1) + len / 8 + 256, "at most 1/8 wasted");
        }
    }
}
