// Host side of the CUDA attention of a KVCache on the GPU: transforms the
// queries on the host (A_k q, a small GEMM), uploads them with the page
// tables and A_v, runs cuda_kv_attend, downloads the output.
#include <cmath>
#include <vector>

#include "engram/alloc.h"
#include "engram/backend.h"
#include "kvcache.h"
#include "quant_cuda.h"

namespace engram {
namespace quant {

namespace {

std::shared_ptr<Storage> upload(DeviceType dev, const void* p, size_t bytes) {
  auto s = std::make_shared<Storage>(dev, bytes ? bytes : 4);
  if (bytes) copy_bytes(s->data, dev, p, DeviceType::CPU, bytes);
  return s;
}

}  // namespace

void KVCache::attend_cuda(int layer, const float* q, int64_t Tq, int hq, bool causal, float scale, float* out) const {
  const Layer& L = layers_[(size_t)layer];
  const int H = opt_.heads, D = opt_.head_dim, g = hq / H;
  const int64_t M = Tq * g;
  const int tK = L.k.q->t_dim(), tV = L.v.q->t_dim();
  const DeviceType dev = opt_.device;

  std::vector<float> qs((size_t)(H * M * D)), qt((size_t)(H * M * tK));
  for (int h = 0; h < H; ++h) {
    for (int64_t m = 0; m < M; ++m) {
      const float* src = q + ((m / g) * hq + h * g + m % g) * D;
      for (int c = 0; c < D; ++c) qs[(size_t)((h * M + m) * D + c)] = src[c] * scale;
    }
    L.k.q->transform_queries(qs.data() + h * M * D, D, M, L.k.q->table_heads() > 1 ? h : 0, qt.data() + h * M * tK, tK);
  }
  const int tables = L.v.q->table_heads();
  std::vector<float> av;
  for (int t = 0; t < tables; ++t) {
    std::vector<float> a = L.v.q->matrix(t);
    av.insert(av.end(), a.begin(), a.end());
  }
  std::vector<const uint8_t*> kp, vp;
  for (const auto& p : L.k.pages) kp.push_back(static_cast<const uint8_t*>(p->data));
  for (const auto& p : L.v.pages) vp.push_back(static_cast<const uint8_t*>(p->data));

  auto d_qs = upload(dev, qs.data(), qs.size() * 4), d_qt = upload(dev, qt.data(), qt.size() * 4);
  auto d_av = upload(dev, av.data(), av.size() * 4);
  auto d_kp = upload(dev, kp.data(), kp.size() * sizeof(void*)), d_vp = upload(dev, vp.data(), vp.size() * sizeof(void*));
  auto d_out = std::make_shared<Storage>(dev, (size_t)(Tq * hq * D) * 4);

  CudaAttendArgs a;
  const Stream* st[2] = {&L.k, &L.v};
  CudaStreamView* views[2] = {&a.k, &a.v};
  const std::shared_ptr<Storage>* pt[2] = {&d_kp, &d_vp};
  for (int i = 0; i < 2; ++i) {
    views[i]->desc = st[i]->q->desc();
    views[i]->pages = static_cast<const uint8_t* const*>((*pt[i])->data);
    views[i]->head_bytes = st[i]->head_bytes;
    views[i]->nq = st[i]->nq;
    views[i]->ring = st[i]->dev_ring ? static_cast<const float*>(st[i]->dev_ring->data) : nullptr;
    views[i]->wcap = st[i]->wcap;
  }
  a.page_tokens = page_tokens_;
  a.n = L.n;
  a.tq = Tq;
  a.heads = H;
  a.group = g;
  a.dim = D;
  a.causal = causal;
  a.qt = static_cast<const float*>(d_qt->data);
  a.qs = static_cast<const float*>(d_qs->data);
  a.av = static_cast<const float*>(d_av->data);
  a.av_tables = tables;
  a.out = static_cast<float*>(d_out->data);
  (void)tV;
  cuda_kv_attend(a);
  copy_bytes(out, DeviceType::CPU, d_out->data, dev, (size_t)(Tq * hq * D) * 4);
}

}  // namespace quant
}  // namespace engram
