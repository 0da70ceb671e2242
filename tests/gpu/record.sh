#!/bin/bash
# Records what a GPU machine prints, raw, for tests that replay it on CPU machines (tests/fixtures/recorded/):
#   bash tests/gpu/record.sh DIR
# Run from the project's root. Each command writes its stdout to DIR/NAME, its stderr to DIR/NAME.stderr
# (removed when empty), and one line to DIR/index.tsv: name, exit status (124: timed out, 127: not found),
# seconds, command. Every command has a short timeout and none is fatal: the script always exits 0.
# Nothing here reads the environment beyond the variables named in env.txt (no secrets leave the machine).
set -u
DIR=${1:?usage: record.sh DIR}
mkdir -p "$DIR" || exit 0
PY=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
printf 'name\texit\tseconds\tcommand\n' > "$DIR/index.tsv"

rec() {  # rec NAME SECONDS CMD...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS rc
  timeout -k 5 "$limit" "$@" > "$DIR/$name" 2> "$DIR/$name.stderr" < /dev/null
  rc=$?
  [ -s "$DIR/$name.stderr" ] || rm -f "$DIR/$name.stderr"
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" >> "$DIR/index.tsv"
}

rec nvidia-smi.txt 30 nvidia-smi
rec nvidia-smi-q.txt 60 nvidia-smi -q
rec nvidia-smi-L.txt 30 nvidia-smi -L
rec nvidia-smi-topo-m.txt 30 nvidia-smi topo -m
rec nvidia-smi-topo-p2p-rw.txt 30 nvidia-smi topo -p2p rw
rec query-gpu.csv 30 nvidia-smi --query-gpu=driver_version,name,compute_cap,memory.total,pci.bus_id --format=csv,noheader
# the exact query torchrig's GPU probe falls back to when NVML cannot be used (probe/gpus.py)
rec query-gpu-probe.csv 30 nvidia-smi --query-gpu=index,name,uuid,compute_cap,memory.total,mig.mode.current,persistence_mode,pci.bus_id --format=csv,nounits
rec proc-driver-nvidia-version.txt 10 cat /proc/driver/nvidia/version
rec sys-module-nvidia-version.txt 10 cat /sys/module/nvidia/version
rec nvml.json 30 "$PY" "$HERE/nvml_dump.py" "recorded on a GPU machine by tests/gpu/record.sh"
# The script goes into DIR too: it says what produced torch-info.json.
cat > "$DIR/torch-info.py" <<'EOF'
import json, os, re, sys
info = {"python": sys.version, "executable": sys.executable}
try:
    import torch
    info.update(version=torch.__version__, cuda=torch.version.cuda, hip=getattr(torch.version, "hip", None),
                git=getattr(torch.version, "git_version", None), file=torch.__file__)
    info["arch_list"] = torch.cuda.get_arch_list()
    info["cudnn"] = torch.backends.cudnn.version()
    info["cuda_available"] = torch.cuda.is_available()
    info["device_count"] = torch.cuda.device_count()
    try:
        info["nccl"] = list(torch.cuda.nccl.version())
    except Exception as exc:
        info["nccl"] = f"{type(exc).__name__}: {exc}"
    devices = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        devices.append({"name": p.name, "capability": [p.major, p.minor], "total_memory": p.total_memory,
                        "multi_processor_count": p.multi_processor_count,
                        "uuid": str(getattr(p, "uuid", "")), "pci_bus_id": getattr(p, "pci_bus_id", None),
                        "repr": repr(p)})
    info["devices"] = devices
    if devices:
        a = torch.randn(64, 64, device="cuda")
        (a @ a).sum().item()
        x = torch.randn(1, 3, 16, 16, device="cuda")
        torch.nn.functional.conv2d(x, torch.randn(4, 3, 3, 3, device="cuda")).sum().item()
        torch.cuda.synchronize()
except Exception as exc:
    info["error"] = f"{type(exc).__name__}: {exc}"
libs = {}
with open("/proc/self/maps") as fh:  # what a torch process that ran a matmul and a conv really mapped
    for line in fh:
        parts = line.split(None, 5)
        if len(parts) == 6 and re.search(r"\.so(\.|$)", parts[5]):
            libs.setdefault(os.path.basename(parts[5].strip()), parts[5].strip())
info["mapped_libraries"] = libs
print(json.dumps(info, indent=2, default=str))
EOF
rec torch-info.json 90 "$PY" "$DIR/torch-info.py"
rec collect_env.txt 90 "$PY" -m torch.utils.collect_env
if command -v nvcc > /dev/null 2>&1; then
  rec nvcc-version.txt 30 nvcc --version
else
  printf 'nvcc-version.txt\t127\t0\tnvcc --version (nvcc is not on PATH)\n' >> "$DIR/index.tsv"
fi
rec uname.txt 10 uname -a
rec os-release.txt 10 cat /etc/os-release
rec dev-nvidia.txt 10 sh -c 'ls -la /dev/nvidia* /dev/dri 2>&1'
rec ldconfig-nvidia.txt 20 sh -c 'ldconfig -p | grep -E "libcuda|libnvidia-ml|libcudnn|libnccl|libcublas"'
rec shm.txt 10 sh -c 'df -h /dev/shm; ls -la /dev/shm'
rec cpu-memory.txt 10 sh -c 'nproc; free -m; grep -m1 "model name" /proc/cpuinfo'
rec pip-list.txt 60 "$PY" -m pip list --format=freeze
rec pip-show-torch.txt 30 "$PY" -m pip show torch torchvision torchaudio nvidia-ml-py
rec env.txt 10 sh -c 'env | grep -E "^(CUDA|NVIDIA|NCCL|TORCH|PYTORCH|LD_LIBRARY_PATH|PATH|PYTHONPATH|CONDA|VIRTUAL_ENV)[A-Z_]*=" | grep -vE "^[A-Z_]*(KEY|TOKEN|SECRET|PASS|CREDENTIAL)[A-Z_]*=" | sort'
rec doctor-quick.json 60 env PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m torchrig doctor --quick --json
exit 0
