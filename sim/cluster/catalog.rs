//! The built-in instance catalog (vCPU, memory, price, architecture, Windows support), valid Fargate
//! task sizes, and Fargate prices. Sources: `shared/facts/domain.md` §4 (us-east-1, on-demand).

use serde::Serialize;

/// A cpu architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Intel / AMD.
    X86_64,
    /// Graviton.
    Arm64,
}

impl Arch {
    /// The name used in scenarios and attributes.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Resolves a scenario name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "x86_64" | "amd64" => Some(Arch::X86_64),
            "arm64" | "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// An operating-system family: Windows containers run only on Windows nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OsFamily {
    /// Linux.
    Linux,
    /// Windows Server.
    Windows,
}

impl OsFamily {
    /// The name used in scenarios and attributes.
    pub fn name(self) -> &'static str {
        match self {
            OsFamily::Linux => "linux",
            OsFamily::Windows => "windows",
        }
    }

    /// Resolves a scenario name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "linux" => Some(OsFamily::Linux),
            "windows" => Some(OsFamily::Windows),
            _ => None,
        }
    }
}

/// An EC2 instance type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceType {
    /// e.g. `m5.large`.
    pub name: String,
    /// vCPUs, in millicores.
    pub cpu_millis: u64,
    /// Memory, in bytes.
    pub memory_bytes: u64,
    /// On-demand Linux price, dollars per hour.
    pub linux_price_per_hour: f64,
    /// Architecture.
    pub arch: Arch,
    /// True when Windows AMIs run on it (x86 only).
    pub windows_capable: bool,
}

/// The extra hourly price of Windows Server on EC2, per vCPU. AWS's license-included rate in
/// us-east-1 (e.g. m5.large: $0.096 Linux, $0.188 Windows); the same rate as Fargate's Windows
/// licence in facts/domain.md §4.
pub const WINDOWS_LICENSE_PER_VCPU_HOUR: f64 = 0.046;

impl InstanceType {
    /// The hourly price of one node of this type running `os`.
    pub fn price_per_hour(&self, os: OsFamily) -> f64 {
        match os {
            OsFamily::Linux => self.linux_price_per_hour,
            OsFamily::Windows => {
                self.linux_price_per_hour
                    + WINDOWS_LICENSE_PER_VCPU_HOUR * self.cpu_millis as f64 / 1000.0
            }
        }
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

/// (name, vCPU, GiB, $/h Linux, arch): facts/domain.md §4.
const CATALOG: [(&str, u64, u64, f64, Arch); 11] = [
    ("m5.large", 2, 8, 0.096, Arch::X86_64),
    ("m5.xlarge", 4, 16, 0.192, Arch::X86_64),
    ("c5.large", 2, 4, 0.085, Arch::X86_64),
    ("c5.xlarge", 4, 8, 0.170, Arch::X86_64),
    ("c6g.large", 2, 4, 0.068, Arch::Arm64),
    ("m6g.large", 2, 8, 0.077, Arch::Arm64),
    ("m6i.large", 2, 8, 0.096, Arch::X86_64),
    ("m7g.large", 2, 8, 0.0816, Arch::Arm64),
    ("t3.medium", 2, 4, 0.0416, Arch::X86_64),
    ("t4g.medium", 2, 4, 0.0336, Arch::Arm64),
    ("r5.large", 2, 16, 0.126, Arch::X86_64),
];

/// Every built-in instance type, in catalog order.
pub fn builtin_instance_types() -> Vec<InstanceType> {
    CATALOG
        .iter()
        .map(|&(name, vcpu, gib, price, arch)| InstanceType {
            name: name.to_string(),
            cpu_millis: vcpu * 1000,
            memory_bytes: gib * GIB,
            linux_price_per_hour: price,
            arch,
            windows_capable: arch == Arch::X86_64,
        })
        .collect()
}

/// A valid Fargate task size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FargateSize {
    /// vCPU, in millicores.
    pub cpu_millis: u64,
    /// Memory, in bytes.
    pub memory_bytes: u64,
}

/// Valid Fargate cpu values (millicores) with their memory range in GiB (min, max, step), from the
/// ECS developer guide (facts/domain.md §4). 0.25 vCPU allows 0.5, 1 and 2 GiB.
const FARGATE_SIZES: [(u64, u64, u64, u64); 7] = [
    (250, 0, 0, 0),
    (500, 1, 4, 1),
    (1000, 2, 8, 1),
    (2000, 4, 16, 1),
    (4000, 8, 30, 1),
    (8000, 16, 60, 4),
    (16000, 32, 120, 8),
];

/// The memory options of one Fargate cpu size, ascending, in bytes.
fn fargate_memory_options(cpu_millis: u64) -> Vec<u64> {
    if cpu_millis == 250 {
        return vec![GIB / 2, GIB, 2 * GIB];
    }
    FARGATE_SIZES
        .iter()
        .filter(|size| size.0 == cpu_millis)
        .flat_map(|&(_, min, max, step)| (min..=max).step_by(step as usize).map(|gib| gib * GIB))
        .collect()
}

/// The smallest valid Fargate size with at least `cpu_millis` and `memory_bytes`, or `None` when the
/// task is larger than the largest size (16 vCPU, 120 GiB).
pub fn fargate_size_for(cpu_millis: u64, memory_bytes: u64) -> Option<FargateSize> {
    FARGATE_SIZES
        .iter()
        .filter(|size| size.0 >= cpu_millis)
        .find_map(|size| {
            fargate_memory_options(size.0)
                .into_iter()
                .find(|&memory| memory >= memory_bytes)
                .map(|memory| FargateSize {
                    cpu_millis: size.0,
                    memory_bytes: memory,
                })
        })
}

/// Fargate on-demand prices: dollars per vCPU-hour and per GB-hour (facts/domain.md §4).
pub fn fargate_prices(os: OsFamily, arch: Arch) -> (f64, f64) {
    match (os, arch) {
        (OsFamily::Windows, _) => (0.09148 + 0.046, 0.01005),
        (OsFamily::Linux, Arch::Arm64) => (0.03238, 0.00356),
        (OsFamily::Linux, Arch::X86_64) => (0.04048, 0.004445),
    }
}

/// Fargate bills Linux tasks per second with a one-minute minimum.
pub const FARGATE_MINIMUM_BILLED_SECONDS: f64 = 60.0;

/// Fargate bills Windows tasks with a fifteen-minute minimum (AWS Fargate pricing page).
pub const FARGATE_WINDOWS_MINIMUM_BILLED_SECONDS: f64 = 900.0;

/// The cost of one Fargate task of `size` that ran for `seconds`.
pub fn fargate_task_cost(
    size: FargateSize,
    os: OsFamily,
    arch: Arch,
    seconds: f64,
    discount: f64,
) -> f64 {
    let (per_vcpu_hour, per_gb_hour) = fargate_prices(os, arch);
    let minimum = match os {
        OsFamily::Linux => FARGATE_MINIMUM_BILLED_SECONDS,
        OsFamily::Windows => FARGATE_WINDOWS_MINIMUM_BILLED_SECONDS,
    };
    let billed_hours = seconds.max(minimum) / 3600.0;
    let vcpu = size.cpu_millis as f64 / 1000.0;
    let gib = size.memory_bytes as f64 / GIB as f64;
    (vcpu * per_vcpu_hour + gib * per_gb_hour) * billed_hours * (1.0 - discount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_required_types() {
        let types = builtin_instance_types();
        for name in [
            "m5.large",
            "m5.xlarge",
            "c5.large",
            "c5.xlarge",
            "c6g.large",
            "m6g.large",
            "m7g.large",
            "t3.medium",
            "t4g.medium",
        ] {
            assert!(types.iter().any(|t| t.name == name), "{name}");
        }
        let m5 = types.iter().find(|t| t.name == "m5.large").unwrap();
        assert!((m5.price_per_hour(OsFamily::Windows) - 0.188).abs() < 1e-9);
        assert!(types.iter().any(|t| t.windows_capable));
        assert!(
            !types
                .iter()
                .find(|t| t.name == "c6g.large")
                .unwrap()
                .windows_capable
        );
    }

    /// (requested cpu millis, requested memory GiB×4) → (Fargate cpu millis, memory GiB×4)
    #[test]
    fn fargate_sizes_round_up() {
        /// (cpu millicores, memory in quarter GiB)
        type Shape = (u64, u64);
        let table: [(Shape, Option<Shape>); 9] = [
            ((100, 1), Some((250, 2))),   // 0.25 GiB → 0.25 vCPU / 0.5 GiB
            ((250, 8), Some((250, 8))),   // exact
            ((250, 12), Some((500, 12))), // 3 GiB does not fit 0.25 vCPU → 0.5 vCPU / 3 GiB
            ((300, 2), Some((500, 4))),   // 0.5 vCPU starts at 1 GiB
            ((1000, 9 * 4), Some((2000, 9 * 4))),
            ((4000, 31 * 4), Some((8000, 32 * 4))), // 8 vCPU memory in 4 GiB steps
            ((8001, 4), Some((16000, 32 * 4))),
            ((16000, 121 * 4), None),
            ((16001, 4), None),
        ];
        for ((cpu, quarter_gib), expected) in table {
            let size = fargate_size_for(cpu, quarter_gib * GIB / 4);
            let got = size.map(|s| (s.cpu_millis, s.memory_bytes * 4 / GIB));
            assert_eq!(
                got,
                expected,
                "request {cpu}m / {} GiB",
                quarter_gib as f64 / 4.0
            );
        }
    }

    #[test]
    fn fargate_bills_at_least_one_minute() {
        let size = FargateSize {
            cpu_millis: 1000,
            memory_bytes: 2 * GIB,
        };
        let hourly = 0.04048 + 2.0 * 0.004445;
        let ten_seconds = fargate_task_cost(size, OsFamily::Linux, Arch::X86_64, 10.0, 0.0);
        assert!((ten_seconds - hourly / 60.0).abs() < 1e-12);
        let one_hour = fargate_task_cost(size, OsFamily::Linux, Arch::X86_64, 3600.0, 0.0);
        assert!((one_hour - hourly).abs() < 1e-12);
        let spot = fargate_task_cost(size, OsFamily::Linux, Arch::X86_64, 3600.0, 0.7);
        assert!((spot - 0.3 * hourly).abs() < 1e-12);
        let windows_hourly = 0.09148 + 0.046 + 2.0 * 0.01005;
        let windows = fargate_task_cost(size, OsFamily::Windows, Arch::X86_64, 10.0, 0.0);
        assert!(
            (windows - windows_hourly / 4.0).abs() < 1e-12,
            "15-minute minimum"
        );
    }
}
