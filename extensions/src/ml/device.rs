//! Choosing the compute device at run time: one binary for CPU and GPU machines.
//!
//! `ARGUS_DEVICE=cpu|cuda|auto` (default `auto`) or a command's `--device` asks for a device;
//! `auto` takes the GPU when the build has the `cuda` feature and a GPU with its libraries is
//! present, and the CPU otherwise. Asking for `cuda` where there is none is an error that says
//! why, never a silent fall back. Model code is generic over [`Backend`]; [`Device::run`] calls
//! it with the chosen backend.

use std::fmt;
#[cfg(feature = "cuda")]
use std::sync::{Arc, OnceLock};

use super::backend::Backend;
use super::cpu::Cpu;
#[cfg(feature = "cuda")]
use super::cuda::{Cuda, CudaError};

/// The environment variable that chooses the device.
pub const DEVICE_VARIABLE: &str = "ARGUS_DEVICE";

/// Which device a run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeviceRequest {
    /// The CPU backend.
    Cpu,
    /// The CUDA backend; an error when it cannot start.
    Cuda,
    /// The GPU when one can be used, else the CPU.
    #[default]
    Auto,
}

impl DeviceRequest {
    /// Parse `cpu`, `cuda` (or `gpu`) or `auto`.
    pub fn parse(s: &str) -> Result<DeviceRequest, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceRequest::Cpu),
            "cuda" | "gpu" => Ok(DeviceRequest::Cuda),
            "auto" | "" => Ok(DeviceRequest::Auto),
            other => Err(format!(
                "unknown device {other:?}: expected cpu, cuda or auto"
            )),
        }
    }

    /// From `ARGUS_DEVICE`, `auto` when it is unset.
    pub fn from_env() -> Result<DeviceRequest, String> {
        match std::env::var(DEVICE_VARIABLE) {
            Ok(v) => DeviceRequest::parse(&v).map_err(|e| format!("{DEVICE_VARIABLE}: {e}")),
            Err(_) => Ok(DeviceRequest::Auto),
        }
    }
}

/// A device that runs the models.
#[derive(Clone, Default)]
pub enum Device {
    /// The CPU backend.
    #[default]
    Cpu,
    /// The CUDA backend (one per process, shared).
    #[cfg(feature = "cuda")]
    Cuda(Arc<Cuda>),
}

/// Devices are equal when they are the same kind: there is one GPU context per process.
impl PartialEq for Device {
    fn eq(&self, other: &Device) -> bool {
        self.is_gpu() == other.is_gpu()
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Work that runs on whichever backend was chosen.
pub trait DeviceTask {
    /// What the work returns.
    type Output;
    /// Run on `backend`.
    fn run<B: Backend>(self, backend: &B) -> Self::Output;
}

#[cfg(feature = "cuda")]
fn shared_cuda() -> Result<Arc<Cuda>, CudaError> {
    static CUDA: OnceLock<Result<Arc<Cuda>, CudaError>> = OnceLock::new();
    CUDA.get_or_init(|| Cuda::new().map(Arc::new)).clone()
}

impl Device {
    /// Open the requested device. `auto` never fails; `cuda` fails with the reason when the GPU
    /// cannot be used (no CUDA support in this build, no driver, no device).
    pub fn open(request: DeviceRequest) -> Result<Device, String> {
        match request {
            DeviceRequest::Cpu => Ok(Device::Cpu),
            DeviceRequest::Cuda => Device::cuda(),
            DeviceRequest::Auto => Ok(Device::cuda().unwrap_or(Device::Cpu)),
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda() -> Result<Device, String> {
        shared_cuda()
            .map(Device::Cuda)
            .map_err(|e| format!("the CUDA device cannot be used: {e}"))
    }

    #[cfg(not(feature = "cuda"))]
    fn cuda() -> Result<Device, String> {
        Err("this build of Argus has no CUDA support (built without the `cuda` feature)".into())
    }

    /// Whether this is a GPU.
    pub fn is_gpu(&self) -> bool {
        !matches!(self, Device::Cpu)
    }

    /// `cpu`, or `cuda: <device name>`.
    pub fn describe(&self) -> String {
        match self {
            Device::Cpu => format!("cpu ({} threads)", rayon::current_num_threads()),
            #[cfg(feature = "cuda")]
            Device::Cuda(c) => format!("cuda: {}", c.name()),
        }
    }

    /// Run `task` on this device's backend.
    pub fn run<T: DeviceTask>(&self, task: T) -> T::Output {
        match self {
            Device::Cpu => task.run(&Cpu),
            #[cfg(feature = "cuda")]
            Device::Cuda(c) => task.run(c.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_unknown_names_are_refused() {
        assert_eq!(DeviceRequest::parse("CPU"), Ok(DeviceRequest::Cpu));
        assert_eq!(DeviceRequest::parse("cuda"), Ok(DeviceRequest::Cuda));
        assert_eq!(DeviceRequest::parse("auto"), Ok(DeviceRequest::Auto));
        let err = DeviceRequest::parse("tpu").unwrap_err();
        assert!(
            err.contains("tpu") && err.contains("cpu, cuda or auto"),
            "{err}"
        );
    }

    #[test]
    fn auto_always_opens_a_device_and_cpu_is_the_cpu() {
        assert!(!Device::open(DeviceRequest::Cpu).unwrap().is_gpu());
        let auto = Device::open(DeviceRequest::Auto).unwrap();
        assert!(auto.describe().starts_with("cpu") || auto.describe().starts_with("cuda"));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_so() {
        let err = Device::open(DeviceRequest::Cuda).unwrap_err();
        assert!(err.contains("without the `cuda` feature"), "{err}");
    }
}
