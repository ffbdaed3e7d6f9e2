/* DLPack's DLTensor (what PyTorch, NumPy and CuPy export) as an nf_tensor. */
#include "ir/ir.h"

#include <dlpack/dlpack.h>

static bool dtype_of(DLDataType t, nf_dtype *out)
{
    if (t.lanes != 1)
        return false;
    switch (t.code) {
    case kDLFloat:
        *out = t.bits == 16 ? NF_F16 : t.bits == 32 ? NF_F32 : t.bits == 64 ? NF_F64 : NF_DTYPE_NONE;
        break;
    case kDLBfloat: *out = t.bits == 16 ? NF_BF16 : NF_DTYPE_NONE; break;
    case kDLInt: *out = t.bits == 32 ? NF_I32 : t.bits == 64 ? NF_I64 : NF_DTYPE_NONE; break;
    case kDLUInt: *out = t.bits == 8 ? NF_BOOL : NF_DTYPE_NONE; break; /* DLPack < 1.0 has no bool code */
    default: *out = NF_DTYPE_NONE;
    }
    return *out != NF_DTYPE_NONE;
}

nf_status nf_tensor_from_dlpack(const void *dltensor, nf_tensor *out, nf_error *err)
{
    const DLTensor *t = dltensor;
    if (!t || !out)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "nf_tensor_from_dlpack: NULL argument");
    if (t->ndim < 0 || t->ndim > NF_MAX_DIMS)
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "DLPack tensor of rank %d (nsafuse takes up to %d)", t->ndim,
                            NF_MAX_DIMS);
    nf_dtype dt;
    if (!dtype_of(t->dtype, &dt))
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "DLPack dtype code %u bits %u lanes %u has no nsafuse dtype",
                            t->dtype.code, t->dtype.bits, t->dtype.lanes);
    nf_device_kind dev;
    switch (t->device.device_type) {
    case kDLCPU: case kDLCUDAHost: case kDLROCMHost: dev = NF_DEVICE_HOST; break;
    case kDLCUDA: case kDLCUDAManaged: dev = NF_DEVICE_CUDA; break;
    case kDLROCM: dev = NF_DEVICE_HIP; break;
    default:
        return nf_set_error(err, NF_ERR_UNSUPPORTED, 0, 0, "DLPack device type %d is not supported",
                            (int)t->device.device_type);
    }
    size_t size = nf_dtype_size(dt);
    if (t->byte_offset % size)
        return nf_set_error(err, NF_ERR_ARG, 0, 0, "DLPack byte_offset %llu is not a multiple of the element size",
                            (unsigned long long)t->byte_offset);
    int64_t shape[NF_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++)
        shape[d] = t->shape[d];
    nf_tensor_init(out, t->data ? (char *)t->data + t->byte_offset : NULL, dt, t->ndim, shape);
    if (t->strides) /* NULL strides: compact row-major */
        for (int d = 0; d < t->ndim; d++)
            out->strides[d] = t->strides[d];
    out->device = dev;
    out->device_id = t->device.device_id;
    return NF_OK;
}
