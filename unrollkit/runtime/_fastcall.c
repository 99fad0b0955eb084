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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { K_ARRAY = 0, K_F32 = 1, K_F64 = 2, K_I32 = 3, K_I64 = 4 };

#define MAX_PARAMS 64

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
 * spec: a tuple with one item per parameter: ("array", format, shape tuple, is_output) or
 * ("f32" | "f64" | "i32" | "i64",). */
static int FastCall_init(FastCall *self, PyObject *args, PyObject *kw) {
    unsigned long long address;
    PyObject *spec, *owner, *array_type, *float_type, *int_type;
    if (!PyArg_ParseTuple(args, "KO!OOO!O!:FastCall", &address, &PyTuple_Type, &spec, &owner,
                          &array_type, &PyType_Type, &float_type, &PyType_Type, &int_type))
        return -1;
    if (address == 0) {
        PyErr_SetString(PyExc_ValueError, "FastCall: null function address");
        return -1;
    }
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
        }
    }
    Param *params = PyMem_Calloc(n ? n : 1, sizeof(Param));
    Py_ssize_t *shapes = PyMem_Calloc(ndims ? ndims : 1, sizeof(Py_ssize_t));
    if (!params || !shapes) {
        PyMem_Free(params);
        PyMem_Free(shapes);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0;
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
        if (c->fc->params[i].kind == K_ARRAY && c->views[i].obj) PyBuffer_Release(&c->views[i]);
    c->got = 0;
}

/* 1 when argv is exactly fc's signature (then c holds the buffers: release() them); 0 if not */
static int prepare(FastCall *fc, PyObject *argv, Prepared *c) {
    Py_ssize_t n = fc->nparams;
    c->fc = fc;
    c->got = 0;
    if (!PyTuple_Check(argv) || PyTuple_GET_SIZE(argv) != n || fc->fn == NULL) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Param *p = &fc->params[i];
        PyObject *a = PyTuple_GET_ITEM(argv, i);
        c->views[i].obj = NULL;
        c->got = i + 1;
        if (p->kind != K_ARRAY) {
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
        if (fc->params[i].kind != K_ARRAY || c->views[i].len == 0) continue;
        char *lo = c->views[i].buf, *hi = lo + c->views[i].len;
        for (Py_ssize_t j = i + 1; j < n; j++) {
            if (fc->params[j].kind != K_ARRAY || c->views[j].len == 0) continue;
            char *lo2 = c->views[j].buf, *hi2 = lo2 + c->views[j].len;
            if (lo < hi2 && lo2 < hi) goto no;
        }
    }
    return 1;
no:
    release(c);
    return 0;
}

/* fc(args_tuple) -> True when the kernel ran, False when the arguments need the full checks */
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
    release(&c);
    Py_DECREF(self);
    Py_RETURN_TRUE;
}

/* ---------------------------------------------------------------- the thread pool
 * Persistent workers, created on first use and kept for the process (re-created after a
 * fork). A parallel call hands task k >= 1 to worker k-1 and runs task 0 itself. One
 * parallel call uses the pool at a time; a call that finds it busy (another Python thread's
 * parallel call) runs its tasks one after another on its own thread: correct, never blocked. */
#include <pthread.h>
#include <unistd.h>

#define MAX_TASKS 256

typedef struct { void (*fn)(void **); void **slots; } Task;

static struct {
    pthread_mutex_t busy, mu;
    pthread_cond_t go, done;
    unsigned long generation;
    int workers, ntasks, pending;
    pid_t pid;
    Task tasks[MAX_TASKS];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0};

/* the generation each worker has handled, set when it is created: a worker that first takes
 * the lock after its first generation was announced must still run that generation's task */
static unsigned long worker_seen[MAX_TASKS];

static void *worker(void *arg) {
    int k = (int)(intptr_t)arg + 1;  /* the task index this worker runs */
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = worker_seen[k - 1];
    for (;;) {
        while (pool.generation == seen) pthread_cond_wait(&pool.go, &pool.mu);
        seen = pool.generation;
        if (k < pool.ntasks) {
            Task t = pool.tasks[k];
            pthread_mutex_unlock(&pool.mu);
            t.fn(t.slots);
            pthread_mutex_lock(&pool.mu);
            if (--pool.pending == 0) pthread_cond_signal(&pool.done);
        }
    }
    return NULL;
}

/* Runs tasks[0:n] at once; the caller has released the GIL. 0 on success, else an errno. */
static int run_tasks(Task *tasks, int n) {
    if (n > 1 && pthread_mutex_trylock(&pool.busy) == 0) {
        pthread_mutex_lock(&pool.mu);
        if (pool.pid != getpid()) {  /* a forked child has no workers */
            pool.pid = getpid();
            pool.workers = 0;
        }
        int err = 0;
        while (pool.workers < n - 1 && !err) {
            pthread_t th;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            worker_seen[pool.workers] = pool.generation;
            err = pthread_create(&th, &attr, worker, (void *)(intptr_t)pool.workers);
            pthread_attr_destroy(&attr);
            if (!err) pool.workers++;
        }
        if (err) {
            pthread_mutex_unlock(&pool.mu);
            pthread_mutex_unlock(&pool.busy);
            return err;
        }
        memcpy(pool.tasks, tasks, (size_t)n * sizeof(Task));
        pool.ntasks = n;
        pool.pending = n - 1;
        pool.generation++;
        pthread_cond_broadcast(&pool.go);
        pthread_mutex_unlock(&pool.mu);
        tasks[0].fn(tasks[0].slots);
        pthread_mutex_lock(&pool.mu);
        while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
        pool.ntasks = 0;
        pthread_mutex_unlock(&pool.mu);
        pthread_mutex_unlock(&pool.busy);
        return 0;
    }
    for (int k = 0; k < n; k++) tasks[k].fn(tasks[k].slots);
    return 0;
}

/* run_parallel([(fc, args_tuple), ...]) -> True when every call matched its FastCall and all
 * ran at once, False (nothing ran) when any needs the full checks. The callers' arguments
 * are row blocks of arrays the full checks accepted (unrollkit/runtime/parallel.py), so no two calls
 * write the same memory. */
static PyObject *run_parallel(PyObject *module, PyObject *calls) {
    if (!PyList_Check(calls) || PyList_GET_SIZE(calls) > MAX_TASKS) {
        PyErr_Format(PyExc_TypeError, "run_parallel takes a list of at most %d (FastCall, args)", MAX_TASKS);
        return NULL;
    }
    int n = (int)PyList_GET_SIZE(calls);
    Prepared *prep = PyMem_Calloc(n ? n : 1, sizeof(Prepared));
    Task *tasks = PyMem_Calloc(n ? n : 1, sizeof(Task));
    if (!prep || !tasks) {
        PyMem_Free(prep);
        PyMem_Free(tasks);
        return PyErr_NoMemory();
    }
    int ok = 1, ready = 0;
    for (int k = 0; k < n && ok; k++) {
        PyObject *item = PyList_GET_ITEM(calls, k);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            Py_TYPE(PyTuple_GET_ITEM(item, 0)) != &FastCallType) {
            ok = -1;
            break;
        }
        FastCall *fc = (FastCall *)PyTuple_GET_ITEM(item, 0);
        if (!prepare(fc, PyTuple_GET_ITEM(item, 1), &prep[k])) { ok = 0; break; }
        Py_INCREF(fc);  /* every owner outlives the run */
        ready = k + 1;
        tasks[k].fn = fc->fn;
        tasks[k].slots = prep[k].slots;
    }
    int err = 0;
    if (ok == 1) {
        Py_BEGIN_ALLOW_THREADS
        err = run_tasks(tasks, n);
        Py_END_ALLOW_THREADS
    }
    for (int k = 0; k < ready; k++) {
        FastCall *fc = prep[k].fc;
        release(&prep[k]);
        Py_DECREF(fc);
    }
    PyMem_Free(prep);
    PyMem_Free(tasks);
    if (ok == -1) {
        PyErr_SetString(PyExc_TypeError, "run_parallel takes (FastCall, args tuple) pairs");
        return NULL;
    }
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (ok == 1) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
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
    .tp_doc = "A compiled call signature's fast path: fc(args) -> True (ran) or False (full checks needed)",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FastCall_init,
    .tp_dealloc = (destructor)FastCall_dealloc,
    .tp_call = (ternaryfunc)FastCall_call,
    .tp_getset = FastCall_getset,
};

static PyMethodDef methods[] = {
    {"run_parallel", (PyCFunction)run_parallel, METH_O,
     "run_parallel([(fc, args), ...]) -> bool: run the calls at once on the thread pool"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastcall",
    "The native fast path of a jitted kernel call (see unrollkit/runtime/dispatch.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastcall(void) {
    if (PyType_Ready(&FastCallType) < 0) return NULL;
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
