using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// The method builder behind <c>async Coroutine&lt;T&gt;</c> methods. Its <c>Start</c> boxes the state
/// machine without running it (a cold coroutine); the box is the task. Not for direct use.
/// </summary>
/// <typeparam name="T">The result type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct CoroutineMethodBuilder<T>
{
    private CoroutineBox<T>? box;

    /// <summary>Creates a builder.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static CoroutineMethodBuilder<T> Create() => default;

    /// <summary>The coroutine.</summary>
    public Coroutine<T> Task
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => new(box!);
    }

    /// <summary>Boxes the state machine; runs nothing.</summary>
    // Left to tiered compilation: it is compiled for every coroutine type, and optimized code at first call would cost
    // each of them about a millisecond of JIT (docs/performance.md, "Compiling inside a burst").
    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var b = new CoroutineBox<TStateMachine, T>();
        // The builder lives inside the state machine: set the box first so the copy carries it.
        box = b;
        b.StateMachine = stateMachine;
        ColdTracking.OnCreated(b);
    }

    /// <summary>Not used.</summary>
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    /// <summary>Completes the coroutine.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void SetResult(T result)
    {
        box!.result = result;
        box.CompleteFrame(null);
    }

    /// <summary>Fails the coroutine.</summary>
    public readonly void SetException(Exception exception) => box!.CompleteFrame(exception);

    /// <summary>Suspends at an await.</summary>
    // Compiled optimized at first call, so the ILoopAwaiter test and call on a struct awaiter never box it
    // (unoptimized code boxes it: 24 B per await during warm-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => Suspend(ref awaiter, box!);

    /// <summary>Suspends at an await.</summary>
    // Compiled optimized at first call, so the ILoopAwaiter test and call on a struct awaiter never box it
    // (unoptimized code boxes it: 24 B per await during warm-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => Suspend(ref awaiter, box!);

    // Inlined into the Await*OnCompleted methods, though they are compiled for every pair of awaiter and coroutine type:
    // compiled once per awaiter type instead (smaller code to compile at first use), suspensions measured 5-10% slower
    // in steady state (docs/performance.md, "Compiling inside a burst").
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Suspend<TAwaiter>(ref TAwaiter awaiter, CoroutineBox<T> b)
        where TAwaiter : INotifyCompletion
    {
        // AsyncLocal values flow as in plain async code: the frame resumes with the context it had here.
        var context = ExecutionContext.Capture();
        if (!ReferenceEquals(b.context, context))
        {
            // Usually the same context as at the frame's last suspension: then no store, and no write barrier.
            b.context = context;
        }
        var l = b.loop;
        if (l is { Debug: true })
        {
            SuspendSites.Note(b);
        }
        if (awaiter is ILoopAwaiter)
        {
            // Kettle's own awaiter: it takes the frame directly, no delegate (the JIT removes the box for struct awaiters).
            ((ILoopAwaiter)awaiter).OnSuspend(b);
            if (l is not null)
            {
                // Nothing runs between here and the end of the step but returns (a caller that is an inline frame
                // suspends in turn and sets this again): the step's end need not capture the context once more.
                l.suspendContextState = ReferenceEquals(context, l.baseContext) ? EventLoop.SuspendedAtBase : EventLoop.SuspendedElsewhere;
            }
        }
        else
        {
            b.SuspendForeign(ref awaiter);
        }
    }
}

/// <summary>The method builder behind <c>async Coroutine</c> methods. Not for direct use.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public struct CoroutineMethodBuilder
{
    private CoroutineBox<VoidResult>? box;

    /// <summary>Creates a builder.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static CoroutineMethodBuilder Create() => default;

    /// <summary>The coroutine.</summary>
    public Coroutine Task
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => new(box!);
    }

    /// <summary>Boxes the state machine; runs nothing.</summary>
    // Left to tiered compilation: it is compiled for every coroutine type, and optimized code at first call would cost
    // each of them about a millisecond of JIT (docs/performance.md, "Compiling inside a burst").
    public void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var b = new CoroutineBox<TStateMachine, VoidResult>();
        box = b;
        b.StateMachine = stateMachine;
        ColdTracking.OnCreated(b);
    }

    /// <summary>Not used.</summary>
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    /// <summary>Completes the coroutine.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void SetResult() => box!.CompleteFrame(null);

    /// <summary>Fails the coroutine.</summary>
    public readonly void SetException(Exception exception) => box!.CompleteFrame(exception);

    /// <summary>Suspends at an await.</summary>
    // Compiled optimized at first call, so the ILoopAwaiter test and call on a struct awaiter never box it
    // (unoptimized code boxes it: 24 B per await during warm-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => CoroutineMethodBuilder<VoidResult>.Suspend(ref awaiter, box!);

    /// <summary>Suspends at an await.</summary>
    // Compiled optimized at first call, so the ILoopAwaiter test and call on a struct awaiter never box it
    // (unoptimized code boxes it: 24 B per await during warm-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public readonly void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => CoroutineMethodBuilder<VoidResult>.Suspend(ref awaiter, box!);
}

/// <summary>"Coroutine was never awaited" detection without a finalizer per coroutine.</summary>
/// <remarks>
/// A coroutine created on the loop thread is noted in a list; at the end of the loop iteration, the few
/// still cold get a finalizable report object, dismissed if they are awaited or scheduled later.
/// Created off the loop, the report is made at once.
/// </remarks>
internal static class ColdTracking
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void OnCreated(AioTask box)
    {
        var loop = EventLoop.RunningOnThisThread;
        if (loop is { Debug: false })
        {
            loop.NoteFreshCoroutine(box);
            return;
        }
        OnCreatedRare(box, loop);
    }

    /// <summary>The stack where the coroutine was made: above Kettle's frames and the async method itself (how
    /// many frames that is depends on what the JIT inlined, so they are looked at, not counted).</summary>
    private static string CreationSite()
    {
        var frames = new StackTrace(1, false).GetFrames();
        int i = 0;
        while (i < frames.Length && frames[i].GetMethod()?.Module == typeof(ColdTracking).Module)
        {
            i++;
        }
        if (i < frames.Length && frames[i].GetMethod()?.IsDefined(typeof(AsyncStateMachineAttribute), false) == true)
        {
            i++;
        }
        return new StackTrace(1 + i, true).ToString();
    }

    // Debug mode, or no loop on this thread: out of line, so that the builder's Start, compiled for every coroutine
    // type, stays small.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void OnCreatedRare(AioTask box, EventLoop? loop)
    {
        if (loop is not null)
        {
            loop.NoteFreshCoroutine(box);
            box.Extras.CreationTrace = CreationSite();
        }
        else
        {
            box.Extras.Report = UnretrievedReport.ForColdCoroutine(box, null);
        }
    }
}

/// <summary>Debug mode: where each coroutine frame suspends, for call graphs that show the await's line as asyncio
/// does (a stack walk per suspension: debug mode only). Threading: loop thread.</summary>
internal static class SuspendSites
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Note(AioTask frame)
    {
        var type = frame.StateMachineType;
        if (type is null)
        {
            return;
        }
        // Usually two frames up (this, the builder's Await*OnCompleted with Suspend inlined, MoveNext): one frame is
        // cheaper to make than a whole trace; if inlining differs, search the trace.
        var near = new StackFrame(2, false);
        if (IsMoveNextOf(near, type))
        {
            frame.Extras.SuspendILOffset = near.GetILOffset();
            return;
        }
        foreach (var f in new StackTrace(1, false).GetFrames())
        {
            if (IsMoveNextOf(f, type))
            {
                frame.Extras.SuspendILOffset = f.GetILOffset();
                return;
            }
        }
    }

    private static bool IsMoveNextOf(StackFrame f, Type stateMachine)
    {
        var m = f.GetMethod();
        return m is not null && m.DeclaringType == stateMachine && m.Name == nameof(IAsyncStateMachine.MoveNext);
    }
}
