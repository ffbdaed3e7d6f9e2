/* The targets: one row each. sm_100 or gfx1100 would be one more row. */
#include "codegen/codegen.h"

#include <string.h>

/* PTX ISA 8.0 (CUDA 12.0): enough for sm_90, loads on any CUDA 12/13 driver. */
static const nf_target targets[] = {
    {"host", NF_TARGET_HOST, NULL, NULL, NULL, 1, 0},
    {"sm_80", NF_TARGET_NVPTX, "nvptx64-nvidia-cuda", "sm_80", "+ptx80", 32, 48 * 1024},
    {"sm_90", NF_TARGET_NVPTX, "nvptx64-nvidia-cuda", "sm_90", "+ptx80", 32, 48 * 1024},
    {"sm_90a", NF_TARGET_NVPTX, "nvptx64-nvidia-cuda", "sm_90a", "+ptx80", 32, 48 * 1024},
    {"gfx90a", NF_TARGET_AMDGPU, "amdgcn-amd-amdhsa", "gfx90a", "", 64, 64 * 1024},
    {"gfx942", NF_TARGET_AMDGPU, "amdgcn-amd-amdhsa", "gfx942", "", 64, 64 * 1024},
    {"gfx950", NF_TARGET_AMDGPU, "amdgcn-amd-amdhsa", "gfx950", "", 64, 160 * 1024},
};

const nf_target *nf_target_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

const char *nf_target_names(void) { return "host, cuda, sm_80, sm_90, sm_90a, gfx90a, gfx942, gfx950"; }
