/** Every memory kind of `engram recall`: one import per kind (each file registers itself). */
import './full_attention.js';
import './turboquant.js';
import './kivi.js';
import './gdn.js';
import './titans_linear.js';
import './titans_mlp.js';
import './ttt.js';
import './trellis.js';
import './tnt.js';
