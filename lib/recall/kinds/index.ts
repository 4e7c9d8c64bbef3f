/** Every memory kind of `engram recall`: one import per kind (each file registers itself). */
import './full_attention.js';
import './trellis.js';
