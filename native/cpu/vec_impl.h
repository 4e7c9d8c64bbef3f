// The SIMD maths and row kernels behind vec.h, written once over a traits
// class V (V512 in vec_avx512.cpp, V256 in vec_avx2.cpp). Included by those
// files AFTER their standard headers and AFTER `#pragma GCC target`, inside
// an anonymous namespace, so everything here is compiled for that ISA only.
// It includes nothing itself.
//
// V provides: F (float vector), I (int32 vector), M (lane mask), W (lanes);
// load/loadn/store/storen (n < W: zero-filled load, partial store), set1,
// zero, add/sub/mul/div/sqrt, fmadd(a,b,c) = a*b+c, fnmadd = c-a*b,
// fmsub = a*b-c, max/min with x86 operand order (the SECOND operand is
// returned when either is NaN), abs, round (to nearest), lt/le/gt/ge/eq/
// isnan -> M, mor/mand/any, blend(m, a, b) = m ? b : a, cvt_i (exact float
// -> int), cvt_f, cast_i/cast_f (bit casts), add_i/sub_i/and_i/or_i/set1_i,
// srai/srli/slli, hsum/hmax, and double accumulation: D (double accumulator
// pair), dzero, dadd(D, F), dfma_sq(D, F) (+= x*x in double), dsum(D),
// dacc(double* p, F, n) (p[0:n] += x in double).
//
// Accuracy (measured by test/native/test_vecmath.cpp against double
// references): exp, log 1-2 ulp; sigmoid, tanh, silu, softplus a few ulp;
// gelu a few ulp where |gelu(x)| is not tiny against |x|.

// ---- maths --------------------------------------------------------------

// e^(x + lo) * 2^shift, lo a small correction to the argument (0 for plain
// exp), shift in [0, 64] (callers that multiply tiny results by something
// large scale them out of the denormal range and back with one rounding).
// Cody-Waite reduction x = n ln2 + r, Cephes' degree-6 polynomial for e^r,
// and 2^n applied as 2^(n/2) * 2^(n - n/2) so that results that overflow
// round to inf and results in the denormal range round once, correctly.
template <class V, bool LO = false>
inline typename V::F vexp(typename V::F x, typename V::F lo = V::zero(), int shift = 0) {
  using F = typename V::F;
  using I = typename V::I;
  const F xc = V::min(V::set1(89.0f), V::max(V::set1(-150.0f), x));  // NaN passes through
  const F n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  F r = V::fnmadd(n, V::set1(0.693359375f), xc);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  if (LO) r = V::add(r, V::blend(V::eq(xc, x), V::zero(), lo));  // dropped where x was clamped
  const F z = V::mul(r, r);
  F p = V::set1(1.9875691500E-4f);
  p = V::fmadd(p, r, V::set1(1.3981999507E-3f));
  p = V::fmadd(p, r, V::set1(8.3334519073E-3f));
  p = V::fmadd(p, r, V::set1(4.1665795894E-2f));
  p = V::fmadd(p, r, V::set1(1.6666665459E-1f));
  p = V::fmadd(p, r, V::set1(5.0000001201E-1f));
  p = V::fmadd(p, z, V::add(r, V::set1(1.0f)));
  const I ni = V::add_i(V::cvt_i(n), V::set1_i(shift));
  const I n1 = V::srai(ni, 1), n2 = V::sub_i(ni, n1);
  const F s1 = V::cast_f(V::slli(V::add_i(n1, V::set1_i(127)), 23));
  const F s2 = V::cast_f(V::slli(V::add_i(n2, V::set1_i(127)), 23));
  return V::mul(V::mul(p, s1), s2);
}

// Natural log (Cephes logf): x = m 2^e with m in [sqrt(1/2), sqrt(2)),
// log(1 + f) by a degree-9 polynomial, e ln2 added in two parts. Denormals
// are scaled up first; 0 -> -inf, x < 0 -> NaN, inf -> inf, NaN -> NaN.
template <class V>
inline typename V::F vlog(typename V::F x) {
  using F = typename V::F;
  using I = typename V::I;
  const auto den = V::lt(x, V::set1(1.17549435e-38f));
  const F xs = V::blend(den, x, V::mul(x, V::set1(8388608.0f)));
  const I bits = V::cast_i(xs);
  F e = V::add(V::cvt_f(V::sub_i(V::srli(bits, 23), V::set1_i(126))), V::blend(den, V::zero(), V::set1(-23.0f)));
  F m = V::cast_f(V::or_i(V::and_i(bits, V::set1_i(0x007fffff)), V::set1_i(0x3f000000)));  // [0.5, 1)
  const auto lo = V::lt(m, V::set1(0.707106781186547524f));
  e = V::sub(e, V::blend(lo, V::zero(), V::set1(1.0f)));
  m = V::sub(V::add(m, V::blend(lo, V::zero(), m)), V::set1(1.0f));
  const F z = V::mul(m, m);
  F y = V::set1(7.0376836292E-2f);
  y = V::fmadd(y, m, V::set1(-1.1514610310E-1f));
  y = V::fmadd(y, m, V::set1(1.1676998740E-1f));
  y = V::fmadd(y, m, V::set1(-1.2420140846E-1f));
  y = V::fmadd(y, m, V::set1(1.4249322787E-1f));
  y = V::fmadd(y, m, V::set1(-1.6668057665E-1f));
  y = V::fmadd(y, m, V::set1(2.0000714765E-1f));
  y = V::fmadd(y, m, V::set1(-2.4999993993E-1f));
  y = V::fmadd(y, m, V::set1(3.3333331174E-1f));
  y = V::mul(V::mul(y, m), z);
  y = V::fmadd(e, V::set1(-2.12194440e-4f), y);
  y = V::fnmadd(z, V::set1(0.5f), y);
  F r = V::fmadd(e, V::set1(0.693359375f), V::add(m, y));
  r = V::blend(V::eq(x, V::zero()), r, V::set1(-__builtin_inff()));
  r = V::blend(V::eq(x, V::set1(__builtin_inff())), r, x);
  r = V::blend(V::mor(V::lt(x, V::zero()), V::isnan(x)), r, V::set1(__builtin_nanf("")));
  return r;
}

// log(1 + u) for u >= 0 (or NaN): log(w) * u / (w - 1) with w = 1 + u
// cancels w's rounding error (Goldberg); u itself when w rounds to 1.
template <class V>
inline typename V::F vlog1p_pos(typename V::F u) {
  using F = typename V::F;
  const F w = V::add(V::set1(1.0f), u);
  const F r = V::mul(vlog<V>(w), V::div(u, V::sub(w, V::set1(1.0f))));
  return V::blend(V::eq(w, V::set1(1.0f)), r, u);
}

template <class V>
inline typename V::F vcopysign(typename V::F mag, typename V::F sgn) {
  return V::cast_f(V::or_i(V::and_i(V::cast_i(mag), V::set1_i(0x7fffffff)),
                           V::and_i(V::cast_i(sgn), V::set1_i((int)0x80000000u))));
}

// tanh: Cephes' odd polynomial for |x| < 0.625, else 1 - 2 / (e^(2|x|) + 1).
template <class V>
inline typename V::F vtanh(typename V::F x) {
  using F = typename V::F;
  const F ax = V::abs(x);
  const F e = vexp<V>(V::add(ax, ax));
  const F big = vcopysign<V>(V::sub(V::set1(1.0f), V::div(V::set1(2.0f), V::add(e, V::set1(1.0f)))), x);
  const F z = V::mul(x, x);
  F p = V::set1(-5.70498872745E-3f);
  p = V::fmadd(p, z, V::set1(2.06390887954E-2f));
  p = V::fmadd(p, z, V::set1(-5.37397155531E-2f));
  p = V::fmadd(p, z, V::set1(1.33314422036E-1f));
  p = V::fmadd(p, z, V::set1(-3.33332819422E-1f));
  const F small = V::fmadd(V::mul(p, z), x, x);
  return V::blend(V::lt(ax, V::set1(0.625f)), big, small);
}

// num / (1 + e^-|x|) with num chosen per sign: sigmoid (num = 1 or e^-|x|)
// and silu (num = x or x e^-|x|) share it; stable on both tails. silu's
// negative tail (x e^x normal while e^x is denormal) works on e^-|x| 2^64.
template <class V, bool SILU>
inline typename V::F vsigmoid(typename V::F x) {
  using F = typename V::F;
  const auto pos = V::ge(x, V::zero());
  if (!SILU) {
    const F z = vexp<V>(V::sub(V::zero(), V::abs(x)));
    return V::div(V::blend(pos, z, V::set1(1.0f)), V::add(V::set1(1.0f), z));
  }
  const F zs = vexp<V>(V::sub(V::zero(), V::abs(x)), V::zero(), 64);
  const F d = V::fmadd(zs, V::set1(0x1p-64f), V::set1(1.0f));
  const F neg = V::mul(V::div(V::mul(x, zs), d), V::set1(0x1p-64f));
  return V::blend(pos, neg, V::div(x, d));
}

// softplus = max(x, 0) + log1p(e^-|x|).
template <class V>
inline typename V::F vsoftplus(typename V::F x) {
  using F = typename V::F;
  const F u = vexp<V>(V::sub(V::zero(), V::abs(x)));
  const F pos = V::blend(V::gt(x, V::zero()), V::zero(), x);
  return V::add(pos, vlog1p_pos<V>(u));
}

// gelu (erf form) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, with
// erfc(a) = t exp(-a^2 + Q(t)), t = 1 / (1 + a/2) (Numerical Recipes'
// erfcc, relative error < 1.2e-7 on the whole axis). a^2 = x^2/2 is carried
// exactly (FMA) and the exponent sum with its rounding error (TwoSum), so
// the deep negative tail keeps its relative accuracy.
template <class V>
inline typename V::F vgelu_erf(typename V::F x) {
  using F = typename V::F;
  const F ax = V::min(V::set1(20.0f), V::abs(x));  // erfc(20/sqrt2) is 0 in f32; NaN passes
  const F t = V::div(V::set1(1.0f), V::fmadd(ax, V::set1(0.35355339059327373f), V::set1(1.0f)));
  F q = V::set1(0.17087277f);
  q = V::fmadd(q, t, V::set1(-0.82215223f));
  q = V::fmadd(q, t, V::set1(1.48851587f));
  q = V::fmadd(q, t, V::set1(-1.13520398f));
  q = V::fmadd(q, t, V::set1(0.27886807f));
  q = V::fmadd(q, t, V::set1(-0.18628806f));
  q = V::fmadd(q, t, V::set1(0.09678418f));
  q = V::fmadd(q, t, V::set1(0.37409196f));
  q = V::fmadd(q, t, V::set1(1.00002368f));
  q = V::fmadd(q, t, V::set1(-1.26551223f));
  const F xx = V::mul(ax, ax);
  const F h = V::mul(xx, V::set1(0.5f)), l = V::mul(V::fmsub(ax, ax, xx), V::set1(0.5f));
  const F s = V::sub(q, h);  // TwoSum(q, -h)
  const F bb = V::sub(s, q);
  const F err = V::add(V::sub(q, V::sub(s, bb)), V::sub(V::sub(V::zero(), h), bb));
  // erfc(|x| / sqrt 2) / 2, scaled by 2^64 (unscaled after the product with x).
  const F hs = V::mul(V::mul(t, vexp<V, true>(s, V::sub(err, l), 64)), V::set1(0.5f));
  const F neg = V::mul(V::mul(x, hs), V::set1(0x1p-64f));
  const F pos = V::mul(x, V::fnmadd(hs, V::set1(0x1p-64f), V::set1(1.0f)));
  return V::blend(V::ge(x, V::zero()), neg, pos);
}

// Error-free product and sum (FMA / TwoSum): a*b = p + e, a+b = s + e.
template <class V>
inline void two_prod(typename V::F a, typename V::F b, typename V::F& p, typename V::F& e) {
  p = V::mul(a, b);
  e = V::fmsub(a, b, p);
}
template <class V>
inline void two_sum(typename V::F a, typename V::F b, typename V::F& s, typename V::F& e) {
  s = V::add(a, b);
  const typename V::F bb = V::sub(s, a);
  e = V::add(V::sub(a, V::sub(s, bb)), V::sub(b, bb));
}

// gelu (tanh form) = 0.5 x (1 + tanh(u)) = x sigmoid(v), v = 2u = 2k x (1 + c x^2):
// the sigmoid form has no cancellation for negative x. v is carried as
// v + ve (float-float, constants split in two) because the tail
// e^-|v| magnifies its rounding error by |v|; tiny results are scaled by 2^64.
template <class V>
inline typename V::F vgelu_tanh(typename V::F x) {
  using F = typename V::F;
  const F xc = V::min(V::set1(1e4f), V::max(V::set1(-1e4f), x));  // NaN passes
  const float k2h = 1.5957691216057308f, k2l = (float)(1.5957691216057308 - (double)1.5957691216057308f);
  const float ch = 0.044715f, cl = (float)(0.044715 - (double)0.044715f);
  F x2, x2e, t, te, q, qe, m, me, v, ve;
  two_prod<V>(xc, xc, x2, x2e);
  two_prod<V>(V::set1(ch), x2, t, te);
  te = V::fmadd(V::set1(ch), x2e, V::fmadd(V::set1(cl), x2, te));
  two_sum<V>(V::set1(1.0f), t, q, qe);
  qe = V::add(qe, te);
  two_prod<V>(xc, q, m, me);
  me = V::fmadd(xc, qe, me);
  two_prod<V>(V::set1(k2h), m, v, ve);
  ve = V::fmadd(V::set1(k2h), me, V::fmadd(V::set1(k2l), m, ve));
  const auto pos = V::ge(v, V::zero());
  // e^-|v| 2^64 with the low part's sign following |v|.
  const F zs = vexp<V, true>(V::sub(V::zero(), V::abs(v)), V::blend(pos, ve, V::sub(V::zero(), ve)), 64);
  const F d = V::fmadd(zs, V::set1(0x1p-64f), V::set1(1.0f));
  const F neg = V::mul(V::div(V::mul(x, zs), d), V::set1(0x1p-64f));
  return V::blend(pos, neg, V::div(x, d));
}

// ---- row kernels ----------------------------------------------------------

template <class V, class Op>
inline void map_row(const float* x, float* y, int64_t n, const Op& op) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(y + i, op(V::load(x + i)));
  if (i < n) V::storen(y + i, op(V::loadn(x + i, (int)(n - i))), (int)(n - i));
}

template <class V>
void unary_row(const UnaryParams& p, const float* x, float* y, int64_t n) {
  using F = typename V::F;
  switch (p.fn) {
    case UnaryFn::SCALE: {
      const F a = V::set1(p.alpha), b = V::set1(p.beta);
      map_row<V>(x, y, n, [&](F v) { return V::fmadd(a, v, b); });
      return;
    }
    case UnaryFn::NEG: map_row<V>(x, y, n, [](F v) { return V::sub(V::zero(), v); }); return;
    case UnaryFn::ABS: map_row<V>(x, y, n, [](F v) { return V::abs(v); }); return;
    case UnaryFn::SQRT: map_row<V>(x, y, n, [](F v) { return V::sqrt(v); }); return;
    case UnaryFn::EXP: map_row<V>(x, y, n, [](F v) { return vexp<V>(v); }); return;
    case UnaryFn::LOG: map_row<V>(x, y, n, [](F v) { return vlog<V>(v); }); return;
    case UnaryFn::SIGMOID: map_row<V>(x, y, n, [](F v) { return vsigmoid<V, false>(v); }); return;
    case UnaryFn::SILU: map_row<V>(x, y, n, [](F v) { return vsigmoid<V, true>(v); }); return;
    case UnaryFn::GELU:
      if (p.approximate) map_row<V>(x, y, n, [](F v) { return vgelu_tanh<V>(v); });
      else map_row<V>(x, y, n, [](F v) { return vgelu_erf<V>(v); });
      return;
    case UnaryFn::TANH: map_row<V>(x, y, n, [](F v) { return vtanh<V>(v); }); return;
    case UnaryFn::RELU:  // NaN -> 0 like the reference (x > 0 ? x : 0)
      map_row<V>(x, y, n, [](F v) { return V::blend(V::gt(v, V::zero()), V::zero(), v); });
      return;
    case UnaryFn::SOFTPLUS: map_row<V>(x, y, n, [](F v) { return vsoftplus<V>(v); }); return;
  }
}

template <class V, class Op>
inline void binary_loop(const float* a, bool as, const float* b, bool bs, float* o, int64_t n, const Op& op) {
  using F = typename V::F;
  if (as) {
    const F va = V::set1(*a);
    map_row<V>(b, o, n, [&](F v) { return op(va, v); });
  } else if (bs) {
    const F vb = V::set1(*b);
    map_row<V>(a, o, n, [&](F v) { return op(v, vb); });
  } else {
    int64_t i = 0;
    for (; i + V::W <= n; i += V::W) V::store(o + i, op(V::load(a + i), V::load(b + i)));
    if (i < n) {
      const int r = (int)(n - i);
      V::storen(o + i, op(V::loadn(a + i, r), V::loadn(b + i, r)), r);
    }
  }
}

template <class V>
void binary_row(BinaryFn fn, const float* a, bool as, const float* b, bool bs, float* o, int64_t n) {
  using F = typename V::F;
  switch (fn) {
    case BinaryFn::ADD: binary_loop<V>(a, as, b, bs, o, n, [](F x, F y) { return V::add(x, y); }); return;
    case BinaryFn::SUB: binary_loop<V>(a, as, b, bs, o, n, [](F x, F y) { return V::sub(x, y); }); return;
    case BinaryFn::MUL: binary_loop<V>(a, as, b, bs, o, n, [](F x, F y) { return V::mul(x, y); }); return;
    case BinaryFn::DIV: binary_loop<V>(a, as, b, bs, o, n, [](F x, F y) { return V::div(x, y); }); return;
  }
}

template <class V>
float max_row(const float* x, int64_t n) {
  using F = typename V::F;
  F m0 = V::set1(-__builtin_inff()), m1 = m0;
  auto nan = V::isnan(V::zero());
  int64_t i = 0;
  for (; i + 2 * V::W <= n; i += 2 * V::W) {
    const F a = V::load(x + i), b = V::load(x + i + V::W);
    m0 = V::max(m0, a);
    m1 = V::max(m1, b);
    nan = V::mor(nan, V::mor(V::isnan(a), V::isnan(b)));
  }
  for (; i < n; i += V::W) {
    const int r = n - i < V::W ? (int)(n - i) : V::W;
    const F a = r == V::W ? V::load(x + i) : V::blend(V::lanes_lt(r), V::set1(-__builtin_inff()), V::loadn(x + i, r));
    m0 = V::max(m0, a);
    nan = V::mor(nan, V::isnan(a));
  }
  if (V::any(nan)) return __builtin_nanf("");
  return V::hmax(V::max(m0, m1));
}

template <class V>
double sum_row(const float* x, int64_t n) {
  typename V::D d0 = V::dzero(), d1 = V::dzero();
  int64_t i = 0;
  for (; i + 2 * V::W <= n; i += 2 * V::W) {
    d0 = V::dadd(d0, V::load(x + i));
    d1 = V::dadd(d1, V::load(x + i + V::W));
  }
  for (; i < n; i += V::W) d0 = V::dadd(d0, V::loadn(x + i, n - i < V::W ? (int)(n - i) : V::W));
  return V::dsum(d0) + V::dsum(d1);
}

template <class V>
double sumsq_row(const float* x, float c, int64_t n) {
  using F = typename V::F;
  const F vc = V::set1(c);
  typename V::D d0 = V::dzero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) d0 = V::dfma_sq(d0, V::sub(V::load(x + i), vc));
  if (i < n) {
    const int r = (int)(n - i);
    d0 = V::dfma_sq(d0, V::blend(V::lanes_lt(r), V::zero(), V::sub(V::loadn(x + i, r), vc)));
  }
  return V::dsum(d0);
}

template <class V>
void acc_sum_row(double* acc, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::dacc(acc + i, V::load(x + i), V::W);
  if (i < n) V::dacc(acc + i, V::loadn(x + i, (int)(n - i)), (int)(n - i));
}

template <class V>
void acc_max_row(float* acc, const float* x, int64_t n) {
  using F = typename V::F;
  auto step = [](F a, F v) { return V::blend(V::isnan(a), V::max(a, v), a); };  // NaN sticks
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(acc + i, step(V::load(acc + i), V::load(x + i)));
  if (i < n) {
    const int r = (int)(n - i);
    V::storen(acc + i, step(V::loadn(acc + i, r), V::loadn(x + i, r)), r);
  }
}

template <class V>
float exp_sum_row(const float* x, float m, float* y, int64_t n) {
  using F = typename V::F;
  const F vm = V::set1(m);
  F s = V::zero();
  int64_t i = 0;
  for (; i + V::W <= n; i += V::W) {
    const F e = vexp<V>(V::sub(V::load(x + i), vm));
    V::store(y + i, e);
    s = V::add(s, e);
  }
  if (i < n) {
    const int r = (int)(n - i);
    const F e = V::blend(V::lanes_lt(r), V::zero(), vexp<V>(V::sub(V::loadn(x + i, r), vm)));
    V::storen(y + i, e, r);
    s = V::add(s, e);
  }
  return V::hsum(s);
}

template <class V>
void scale_row(const float* x, float s, float* y, int64_t n) {
  using F = typename V::F;
  const F vs = V::set1(s);
  map_row<V>(x, y, n, [&](F v) { return V::mul(v, vs); });
}

template <class V>
void norm_row(const float* x, float mean, float inv, const float* w, const float* b, float* y, int64_t n) {
  using F = typename V::F;
  const F vm = V::set1(mean), vi = V::set1(inv);
  int64_t i = 0;
  auto one = [&](int64_t at, int r) {
    F v = V::mul(V::sub(r == V::W ? V::load(x + at) : V::loadn(x + at, r), vm), vi);
    if (w) v = V::mul(v, r == V::W ? V::load(w + at) : V::loadn(w + at, r));
    if (b) v = V::add(v, r == V::W ? V::load(b + at) : V::loadn(b + at, r));
    if (r == V::W) V::store(y + at, v);
    else V::storen(y + at, v, r);
  };
  for (; i + V::W <= n; i += V::W) one(i, V::W);
  if (i < n) one(i, (int)(n - i));
}
