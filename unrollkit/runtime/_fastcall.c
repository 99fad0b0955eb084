/* The fast path of a jitted kernel's call (unrollkit/runtime/dispatch.py).
 *
 * A FastCall is made for one call signature *after* the full Python checks accepted it once
 * (runtime.JitKernel.signature). A call whose arguments have exactly that signature (same
 * argument count, exact numpy.ndarray type, buffer format, rank, shape, C-contiguity, and
 * writability of outputs; exact int/float scalars that fit) runs the machine code through
 * the kernel's packed entry point `void <symbol>_packed(void **args)`. Anything else, and any
 * two arrays whose memory ranges overlap, returns False untouched: the caller then runs the
 * full checks, which copy, refuse or explain. So this file never decides an error, it only
 * recognises the common case, through the buffer protocol (no numpy headers needed).
 *
 * Lifetime: the FastCall holds a reference to its owner (the CompiledKernel, which owns the
 * machine code), and keeps itself alive while the machine code runs with the GIL released,
 * so eviction from any cache in another thread can never free code that is running.
 *
 * A kernel that returns a scalar has one more parameter, the return slot (last). Called with
 * the user's arguments only, the FastCall passes a zeroed slot of its own and returns its
 * value as a Python float or int: no array is made for it (that allocation, and reading it
 * back, cost more than the call itself for small kernels). Called with a return array too
 * (as tools that pass every parameter do), it checks that array like any output and returns
 * its element.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { K_ARRAY = 0, K_F32 = 1, K_F64 = 2, K_I32 = 3, K_I64 = 4, K_RETURN = 5 };

#define MAX_PARAMS 64

/* the buffer formats numpy exports for the element types a kernel may return (int64: 'l' on
 * LP64, 'q' elsewhere) */
#define RETURN_FORMATS "efdbBhilq"

static PyTypeObject FastCallType;

typedef struct {
    int kind;
    int output;            /* arrays: written by the kernel (must be writable) */
    int ndim;
    Py_ssize_t shape_at;   /* arrays: index of the first dimension in FastCall.shapes */
    char format[8];        /* arrays: the buffer format numpy exports for the dtype */
} Param;

typedef struct {
    PyObject_HEAD
    void (*fn)(void **);
    Py_ssize_t nparams;
    Param *params;
    Py_ssize_t *shapes;
    PyObject *owner;       /* keeps the machine code alive */
    PyObject *array_type;  /* numpy.ndarray: subclasses (masked arrays, ...) take the slow path */
    PyObject *float_type;  /* numpy.floating: its scalars pass as float(x), like the full check */
    PyObject *int_type;    /* numpy.integer: its scalars pass as int(x) */
    Py_ssize_t ret;        /* index of the return slot (K_RETURN, the last parameter), or -1 */
} FastCall;

static void FastCall_dealloc(FastCall *self) {
    PyMem_Free(self->params);
    PyMem_Free(self->shapes);
    Py_XDECREF(self->owner);
    Py_XDECREF(self->array_type);
    Py_XDECREF(self->float_type);
    Py_XDECREF(self->int_type);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* FastCall(address, spec, owner, ndarray_type, floating_type, integer_type)
 * spec: a tuple with one item per parameter: ("array", format, shape tuple, is_output),
 * ("f32" | "f64" | "i32" | "i64",), or, last, ("return", format): a returned scalar's slot. */
static int FastCall_init(FastCall *self, PyObject *args, PyObject *kw) {
    unsigned long long address;
    PyObject *spec, *owner, *array_type, *float_type, *int_type;
    if (!PyArg_ParseTuple(args, "KO!OOO!O!:FastCall", &address, &PyTuple_Type, &spec, &owner,
                          &array_type, &PyType_Type, &float_type, &PyType_Type, &int_type))
        return -1;
    /* address 0: a check-only FastCall (`run_split`'s whole-call matcher): it never runs */
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    if (n > MAX_PARAMS) {
        PyErr_Format(PyExc_ValueError, "FastCall: at most %d parameters", MAX_PARAMS);
        return -1;
    }
    Py_ssize_t ndims = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyTuple_GET_ITEM(spec, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) < 1) goto bad;
        if (PyTuple_GET_SIZE(p) == 4) {
            PyObject *shape = PyTuple_GET_ITEM(p, 2);
            if (!PyTuple_Check(shape)) goto bad;
            ndims += PyTuple_GET_SIZE(shape);
        } else if (PyTuple_GET_SIZE(p) == 2) ndims += 1;  /* a return slot: shape (1,) */
    }
    Param *params = PyMem_Calloc(n ? n : 1, sizeof(Param));
    Py_ssize_t *shapes = PyMem_Calloc(ndims ? ndims : 1, sizeof(Py_ssize_t));
    if (!params || !shapes) {
        PyMem_Free(params);
        PyMem_Free(shapes);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0, ret = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyTuple_GET_ITEM(spec, i);
        const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(p, 0));
        if (!kind) goto bad_free;
        if (strcmp(kind, "array") == 0 && PyTuple_GET_SIZE(p) == 4) {
            const char *fmt = PyUnicode_AsUTF8(PyTuple_GET_ITEM(p, 1));
            PyObject *shape = PyTuple_GET_ITEM(p, 2);
            if (!fmt || strlen(fmt) >= sizeof(params[i].format)) goto bad_free;
            params[i].kind = K_ARRAY;
            strcpy(params[i].format, fmt);
            params[i].output = PyObject_IsTrue(PyTuple_GET_ITEM(p, 3));
            params[i].ndim = (int)PyTuple_GET_SIZE(shape);
            params[i].shape_at = at;
            for (Py_ssize_t d = 0; d < params[i].ndim; d++) {
                shapes[at++] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, d));
                if (PyErr_Occurred()) goto bad_free;
            }
        } else if (strcmp(kind, "return") == 0 && PyTuple_GET_SIZE(p) == 2 && i == n - 1) {
            const char *fmt = PyUnicode_AsUTF8(PyTuple_GET_ITEM(p, 1));
            if (!fmt || strlen(fmt) != 1 || !strchr(RETURN_FORMATS, fmt[0])) goto bad_free;
            params[i].kind = K_RETURN;
            strcpy(params[i].format, fmt);
            params[i].output = 1;
            params[i].ndim = 1;
            params[i].shape_at = at;
            shapes[at++] = 1;
            ret = i;
        } else if (strcmp(kind, "f32") == 0) params[i].kind = K_F32;
        else if (strcmp(kind, "f64") == 0) params[i].kind = K_F64;
        else if (strcmp(kind, "i32") == 0) params[i].kind = K_I32;
        else if (strcmp(kind, "i64") == 0) params[i].kind = K_I64;
        else goto bad_free;
    }
    PyMem_Free(self->params);
    PyMem_Free(self->shapes);
    self->params = params;
    self->shapes = shapes;
    self->nparams = n;
    self->ret = ret;
    self->fn = (void (*)(void **))(uintptr_t)address;
    Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    Py_INCREF(array_type);
    Py_XSETREF(self->array_type, array_type);
    Py_INCREF(float_type);
    Py_XSETREF(self->float_type, float_type);
    Py_INCREF(int_type);
    Py_XSETREF(self->int_type, int_type);
    return 0;
bad_free:
    PyMem_Free(params);
    PyMem_Free(shapes);
bad:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "FastCall: malformed parameter spec");
    return -1;
}

typedef union { double f64; float f32; int32_t i32; int64_t i64; } Scalar;

/* The returned element at p (format fmt, one of RETURN_FORMATS) as a Python float or int,
 * as numpy's .item() gives it. */
static PyObject *return_value(const char *fmt, const void *p) {
    switch (fmt[0]) {
    case 'e': {
#if PY_VERSION_HEX >= 0x030B0000
        double v = PyFloat_Unpack2((const char *)p, PY_LITTLE_ENDIAN);
#else
        double v = _PyFloat_Unpack2((const unsigned char *)p, PY_LITTLE_ENDIAN);
#endif
        if (v == -1.0 && PyErr_Occurred()) return NULL;
        return PyFloat_FromDouble(v);
    }
    case 'f': return PyFloat_FromDouble(*(const float *)p);
    case 'd': return PyFloat_FromDouble(*(const double *)p);
    case 'b': return PyLong_FromLong(*(const int8_t *)p);
    case 'B': return PyLong_FromLong(*(const uint8_t *)p);
    case 'h': return PyLong_FromLong(*(const int16_t *)p);
    case 'i': return PyLong_FromLong(*(const int32_t *)p);
    case 'l': return PyLong_FromLong(*(const long *)p);
    case 'q': return PyLong_FromLongLong(*(const long long *)p);
    }
    PyErr_Format(PyExc_ValueError, "FastCall: no return format %s", fmt);
    return NULL;
}

/* A scalar argument that the full check would pass on as it is (float(a), int(a)): Python
 * floats and ints, numpy floating and integer scalars (not bools). 0: not the fast case. */
static int take_scalar(FastCall *fc, int kind, PyObject *a, Scalar *out) {
    int np_float = !PyFloat_CheckExact(a) && !PyLong_CheckExact(a) &&
                   PyObject_TypeCheck(a, (PyTypeObject *)fc->float_type);
    int np_int = !np_float && !PyFloat_CheckExact(a) && !PyLong_CheckExact(a) &&
                 PyObject_TypeCheck(a, (PyTypeObject *)fc->int_type);
    if (kind == K_F32 || kind == K_F64) {
        double v;
        if (PyFloat_CheckExact(a)) v = PyFloat_AS_DOUBLE(a);
        else if (PyLong_CheckExact(a) || np_float || np_int) {
            v = PyFloat_AsDouble(a);
            if (v == -1.0 && PyErr_Occurred()) { PyErr_Clear(); return 0; }
        } else return 0;
        if (kind == K_F64) { out->f64 = v; return 1; }
        /* a finite double beyond float's range is the full check's to judge */
        if (isfinite(v) && (v > FLT_MAX || v < -FLT_MAX)) return 0;
        out->f32 = (float)v;
        return 1;
    }
    if (!PyLong_CheckExact(a) && !np_int) return 0;  /* bools, floats: the full check */
    int overflow = 0;
    PyObject *as_int = np_int ? PyNumber_Index(a) : (Py_INCREF(a), a);
    if (!as_int) { PyErr_Clear(); return 0; }
    long long v = PyLong_AsLongLongAndOverflow(as_int, &overflow);
    Py_DECREF(as_int);
    if (overflow || (v == -1 && PyErr_Occurred())) { PyErr_Clear(); return 0; }
    if (kind == K_I32) {
        if (v < INT32_MIN || v > INT32_MAX) return 0;
        out->i32 = (int32_t)v;
    } else out->i64 = (int64_t)v;
    return 1;
}

/* One prepared call: the arguments' buffers (held until release) and the slots passed. */
typedef struct {
    FastCall *fc;
    Py_ssize_t got;  /* views[0:got] may hold buffers (unused ones have obj NULL) */
    Py_buffer views[MAX_PARAMS];
    Scalar values[MAX_PARAMS];
    void *slots[MAX_PARAMS];
} Prepared;

static void release(Prepared *c) {
    for (Py_ssize_t i = 0; i < c->got; i++)
        if (c->views[i].obj) PyBuffer_Release(&c->views[i]);  /* (NULL: a scalar or own slot) */
    c->got = 0;
}

static int matches(FastCall *fc, PyObject *argv, Prepared *c);

/* 1 when argv is exactly fc's signature and fc has code to run (then c holds the buffers:
 * release() them); 0 if not */
static int prepare(FastCall *fc, PyObject *argv, Prepared *c) {
    c->fc = fc;
    c->got = 0;
    if (fc->fn == NULL) return 0;
    return matches(fc, argv, c);
}

/* prepare() without asking for code: what a check-only FastCall answers */
static int matches(FastCall *fc, PyObject *argv, Prepared *c) {
    Py_ssize_t n = fc->nparams;
    c->fc = fc;
    c->got = 0;
    if (!PyTuple_Check(argv)) return 0;
    /* without the return array: the slot is the FastCall's own (zeroed, as a new array is) */
    int own_slot = fc->ret >= 0 && PyTuple_GET_SIZE(argv) == n - 1;
    if (PyTuple_GET_SIZE(argv) != n && !own_slot) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Param *p = &fc->params[i];
        c->views[i].obj = NULL;
        c->got = i + 1;
        if (p->kind == K_RETURN && own_slot) {
            memset(&c->values[i], 0, sizeof(Scalar));
            c->slots[i] = &c->values[i];
            continue;
        }
        PyObject *a = PyTuple_GET_ITEM(argv, i);
        if (p->kind != K_ARRAY && p->kind != K_RETURN) {
            if (!take_scalar(fc, p->kind, a, &c->values[i])) goto no;
            c->slots[i] = &c->values[i];
            continue;
        }
        if ((PyObject *)Py_TYPE(a) != fc->array_type) goto no;
        int flags = PyBUF_STRIDES | PyBUF_FORMAT | (p->output ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(a, &c->views[i], flags) < 0) {
            PyErr_Clear();
            c->views[i].obj = NULL;
            goto no;
        }
        Py_buffer *v = &c->views[i];
        if (v->ndim != p->ndim || !v->format || strcmp(v->format, p->format) != 0 ||
            !PyBuffer_IsContiguous(v, 'C')) goto no;
        for (int d = 0; d < p->ndim; d++)
            if (v->shape[d] != fc->shapes[p->shape_at + d]) goto no;
        c->slots[i] = v->buf;
    }
    /* the machine code assumes no aliasing (noalias): overlapping arrays take the full path,
     * which copies an overlapping input and refuses overlapping outputs */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!c->views[i].obj || c->views[i].len == 0) continue;
        char *lo = c->views[i].buf, *hi = lo + c->views[i].len;
        for (Py_ssize_t j = i + 1; j < n; j++) {
            if (!c->views[j].obj || c->views[j].len == 0) continue;
            char *lo2 = c->views[j].buf, *hi2 = lo2 + c->views[j].len;
            if (lo < hi2 && lo2 < hi) goto no;
        }
    }
    return 1;
no:
    release(c);
    return 0;
}

/* fc(args_tuple) -> False when the arguments need the full checks (nothing ran); else the
 * kernel ran, and the result is True, or for a kernel that returns a scalar, its value */
static PyObject *FastCall_call(FastCall *self, PyObject *args, PyObject *kw) {
    if (kw && PyDict_GET_SIZE(kw)) Py_RETURN_FALSE;
    if (PyTuple_GET_SIZE(args) != 1 || !PyTuple_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "FastCall takes one tuple of arguments");
        return NULL;
    }
    Prepared c;
    if (!prepare(self, PyTuple_GET_ITEM(args, 0), &c)) Py_RETURN_FALSE;
    void (*fn)(void **) = self->fn;
    Py_INCREF(self);  /* the owner, and so the machine code, outlives the call */
    Py_BEGIN_ALLOW_THREADS
    fn(c.slots);
    Py_END_ALLOW_THREADS
    PyObject *result = self->ret < 0 ? Py_NewRef(Py_True)
                                     : return_value(self->params[self->ret].format, c.slots[self->ret]);
    release(&c);
    Py_DECREF(self);
    return result;
}

/* ---------------------------------------------------------------- the thread pool
 * Persistent workers, created on first use and kept for the process (re-created after a
 * fork). A parallel call publishes its tasks as a new *generation*; the caller and up to
 * threads - 1 workers claim tasks one at a time from a shared counter until none is left, so
 * a worker that wakes late never delays the call: the caller runs what nobody claimed. One
 * parallel call uses the pool at a time; a call that finds it busy (another Python thread's
 * parallel call) runs its tasks one after another on its own thread: correct, never blocked.
 *
 * Why workers spin before they sleep: waking a thread asleep on a condition variable costs
 * 0.05-0.5 ms on a virtual machine (the idle vCPU is halted and needs an interrupt). After
 * each generation a worker polls for the next one for SPIN_NS, and the caller polls for the
 * last task as long, so back-to-back calls (a benchmark loop, a time-stepping loop) hand
 * work over in about a microsecond; a pool left idle longer than that sleeps and costs no CPU. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MAX_TASKS 256
#define SPIN_NS 500000L  /* 0.5 ms: the Python between two calls of a loop, with room to spare */

/* the claim word: generation << 20 | task count << 10 | next unclaimed task. One atomic word,
 * so a claim can only take a task of the generation it read (a stale worker can never take
 * a task of the next call, nor one twice) */
#define GEN(w) ((w) >> 20)
#define NTASKS(w) ((int)(((w) >> 10) & 1023))
#define NEXT(w) ((int)((w) & 1023))

typedef struct { void (*fn)(void **); void **slots; } Task;

static struct {
    pthread_mutex_t busy, mu;
    pthread_cond_t go, done;
    atomic_ullong word;        /* published with release after tasks, pending and active */
    atomic_int pending;        /* tasks of the current generation not finished */
    int active;                /* workers 0 .. active - 1 take part in the current generation */
    int workers, sleepers;
    pid_t pid;
    Task tasks[MAX_TASKS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0};

/* the generation each worker has handled, set when it is created */
static unsigned long long worker_seen[MAX_TASKS];

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs tasks of generation gen until none is left unclaimed. */
static void run_claimed(unsigned long long gen) {
    unsigned long long w = atomic_load_explicit(&pool.word, memory_order_acquire);
    while (GEN(w) == gen && NEXT(w) < NTASKS(w)) {
        if (!atomic_compare_exchange_weak_explicit(&pool.word, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;  /* w now holds the word another claimer left */
        Task t = pool.tasks[NEXT(w)];
        t.fn(t.slots);
        if (atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&pool.mu);  /* the caller may be asleep on `done` */
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
        w = atomic_load_explicit(&pool.word, memory_order_acquire);
    }
}

/* The next generation after `seen`: polled for SPIN_NS, then waited for asleep (checked under
 * mu, so a caller, which publishes before it takes mu to wake sleepers, cannot be missed). */
static unsigned long long next_generation(unsigned long long seen) {
    long deadline = 0;
    for (unsigned i = 1;; i++) {
        unsigned long long g = GEN(atomic_load_explicit(&pool.word, memory_order_acquire));
        if (g != seen) return g;
        if ((i & 255) == 0) {  /* the clock only now and then: it costs ~20 ns */
            long t = now_ns();
            if (!deadline) deadline = t + SPIN_NS;
            else if (t > deadline) break;
        }
        cpu_relax();
    }
    unsigned long long g;
    pthread_mutex_lock(&pool.mu);
    pool.sleepers++;
    while ((g = GEN(atomic_load(&pool.word))) == seen) pthread_cond_wait(&pool.go, &pool.mu);
    pool.sleepers--;
    pthread_mutex_unlock(&pool.mu);
    return g;
}

static void *worker(void *arg) {
    int k = (int)(intptr_t)arg;
    unsigned long long seen = worker_seen[k];
    for (;;) {
        seen = next_generation(seen);
        if (k < pool.active) run_claimed(seen);
    }
    return NULL;
}

/* In a forked child: no worker exists, and a lock another thread of the parent held at the
 * fork (a parallel call in progress, a worker going to sleep) would be held forever. */
static void pool_after_fork(void) {
    pthread_mutex_init(&pool.busy, NULL);
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.workers = 0;
    pool.sleepers = 0;
    pool.pid = getpid();
}

/* Starts workers until there are n; 0 or an errno. Called holding pool.busy. */
static int grow_pool(int n) {
    int err = 0;
    pthread_mutex_lock(&pool.mu);
    if (pool.pid != getpid()) {  /* a forked child has no workers */
        pool.pid = getpid();
        pool.workers = 0;
        pool.sleepers = 0;
    }
    while (pool.workers < n && !err) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        worker_seen[pool.workers] = GEN(atomic_load(&pool.word));
        err = pthread_create(&th, &attr, worker, (void *)(intptr_t)pool.workers);
        pthread_attr_destroy(&attr);
        if (!err) pool.workers++;
    }
    pthread_mutex_unlock(&pool.mu);
    return err;
}

/* Runs tasks[0:n] on `threads` threads (the caller's included); the caller has released the
 * GIL. 0 on success, else an errno. */
static int run_tasks(Task *tasks, int n, int threads) {
    if (threads > MAX_TASKS) threads = MAX_TASKS;
    if (n > 1 && threads > 1 && pthread_mutex_trylock(&pool.busy) == 0) {
        int err = grow_pool(threads - 1);
        if (err) {
            pthread_mutex_unlock(&pool.busy);
            return err;
        }
        memcpy(pool.tasks, tasks, (size_t)n * sizeof(Task));
        pool.active = threads - 1;
        atomic_store_explicit(&pool.pending, n, memory_order_relaxed);
        unsigned long long gen = GEN(atomic_load(&pool.word)) + 1;
        atomic_store_explicit(&pool.word, gen << 20 | (unsigned long long)n << 10, memory_order_release);
        pthread_mutex_lock(&pool.mu);
        if (pool.sleepers) pthread_cond_broadcast(&pool.go);
        pthread_mutex_unlock(&pool.mu);
        run_claimed(gen);
        long deadline = now_ns() + SPIN_NS;
        while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0 && now_ns() < deadline)
            cpu_relax();
        pthread_mutex_lock(&pool.mu);
        while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0)
            pthread_cond_wait(&pool.done, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_unlock(&pool.busy);
        return 0;
    }
    for (int k = 0; k < n; k++) tasks[k].fn(tasks[k].slots);
    return 0;
}

/* The slots of block k of a split call: `whole`'s, with each sliced array advanced to row lo.
 * 0 (an exception set) when the block's FastCall does not fit the whole call's arrays: its
 * code was proved in bounds for its own shapes, so each sliced array must hold lo + its rows,
 * and every other array must be exactly the whole call's. */
static int block_slots(FastCall *whole_fc, Prepared *whole, FastCall *fc, Py_ssize_t lo,
                       PyObject *sliced, void **slots) {
    Py_ssize_t n = whole_fc->nparams;
    if (fc->fn == NULL || fc->nparams != n || lo < 0) goto bad;
    for (Py_ssize_t i = 0; i < n; i++) {
        Param *p = &fc->params[i], *w = &whole_fc->params[i];
        if (p->kind != w->kind) goto bad;
        if (p->kind != K_ARRAY) { slots[i] = whole->slots[i]; continue; }
        if (p->ndim != w->ndim || p->output != w->output || strcmp(p->format, w->format) != 0) goto bad;
        Py_buffer *v = &whole->views[i];
        int cut = PyObject_IsTrue(PyTuple_GET_ITEM(sliced, i));
        if (cut && p->ndim < 1) goto bad;
        for (int d = 0; d < p->ndim; d++) {
            Py_ssize_t have = v->shape[d], want = fc->shapes[p->shape_at + d];
            if (cut && d == 0 ? (want < 0 || lo + want > have) : want != have) goto bad;
        }
        slots[i] = cut ? (char *)v->buf + lo * v->strides[0] : v->buf;
    }
    return 1;
bad:
    PyErr_SetString(PyExc_RuntimeError,
                    "run_split: a row block does not fit the call's arrays (please report: "
                    "unrollkit/runtime/parallel.py)");
    return 0;
}

/* run_split(matcher, args, blocks, sliced, threads) -> True when `args` match the check-only FastCall
 * `matcher` (the whole call's signature, checked once by the full checks) and the blocks ran
 * at once; False (nothing ran) when the arguments need the full checks. blocks: ((fc, lo), ...)
 * with fc a block signature's FastCall and lo its first row; sliced: per parameter, whether
 * the array is cut into rows. Row windows come from unrollkit/runtime/parallel.py, which
 * proves the blocks write disjoint rows; this function checks that each window lies inside
 * the arrays, so a wrong plan raises instead of touching memory outside them. The blocks
 * run on at most `threads` threads (the caller's included). */
static PyObject *run_split(PyObject *module, PyObject *args) {
    FastCall *m;
    PyObject *argv, *blocks, *sliced;
    int threads;
    if (!PyArg_ParseTuple(args, "O!OO!O!i:run_split", &FastCallType, &m, &argv, &PyTuple_Type,
                          &blocks, &PyTuple_Type, &sliced, &threads))
        return NULL;
    Py_ssize_t nb = PyTuple_GET_SIZE(blocks), n = m->nparams;
    if (nb < 1 || nb > MAX_TASKS || PyTuple_GET_SIZE(sliced) != n) {
        PyErr_Format(PyExc_ValueError, "run_split: 1 to %d blocks and one flag per parameter", MAX_TASKS);
        return NULL;
    }
    Prepared whole;
    if (!matches(m, argv, &whole)) Py_RETURN_FALSE;
    Task *tasks = PyMem_Calloc((size_t)nb, sizeof(Task));
    void **slots = PyMem_Calloc((size_t)(nb * (n ? n : 1)), sizeof(void *));
    FastCall **held = PyMem_Calloc((size_t)nb, sizeof(FastCall *));
    Py_ssize_t ready = 0;
    int ok = tasks && slots && held;
    if (!ok) PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < nb && ok; k++) {
        PyObject *item = PyTuple_GET_ITEM(blocks, k);
        Py_ssize_t lo;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            Py_TYPE(PyTuple_GET_ITEM(item, 0)) != &FastCallType ||
            ((lo = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1))) == -1 && PyErr_Occurred())) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "run_split: blocks are (FastCall, row) pairs");
            ok = 0;
            break;
        }
        FastCall *fc = (FastCall *)PyTuple_GET_ITEM(item, 0);
        if (!block_slots(m, &whole, fc, lo, sliced, slots + k * n)) { ok = 0; break; }
        Py_INCREF(fc);  /* every block's code outlives the run */
        held[ready++] = fc;
        tasks[k].fn = fc->fn;
        tasks[k].slots = slots + k * n;
    }
    int err = 0;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        err = run_tasks(tasks, (int)nb, threads);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t k = 0; k < ready; k++) Py_DECREF(held[k]);
    release(&whole);
    PyMem_Free(tasks);
    PyMem_Free(slots);
    PyMem_Free(held);
    if (!ok) return NULL;
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_TRUE;
}

static PyObject *FastCall_get_owner(FastCall *self, void *closure) {
    PyObject *o = self->owner ? self->owner : Py_None;
    Py_INCREF(o);
    return o;
}

static PyGetSetDef FastCall_getset[] = {
    {"owner", (getter)FastCall_get_owner, NULL, "the object that owns the machine code", NULL},
    {NULL},
};

static PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "unrollkit.runtime._fastcall.FastCall",
    .tp_doc = "A compiled call signature's fast path: fc(args) -> False (full checks needed), else True "
              "(ran) or the returned scalar",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FastCall_init,
    .tp_dealloc = (destructor)FastCall_dealloc,
    .tp_call = (ternaryfunc)FastCall_call,
    .tp_getset = FastCall_getset,
};

static PyMethodDef methods[] = {
    {"run_split", (PyCFunction)run_split, METH_VARARGS,
     "run_split(matcher, args, ((fc, row), ...), sliced, threads) -> bool: one call's row blocks at once"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastcall",
    "The native fast path of a jitted kernel call (see unrollkit/runtime/dispatch.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastcall(void) {
    if (PyType_Ready(&FastCallType) < 0) return NULL;
    pool.pid = getpid();
    if (pthread_atfork(NULL, NULL, pool_after_fork) != 0) {
        PyErr_SetString(PyExc_OSError, "_fastcall: pthread_atfork failed");
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&FastCallType);
    if (PyModule_AddObject(m, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(&FastCallType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
