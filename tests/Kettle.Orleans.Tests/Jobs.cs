using System.Collections.Concurrent;

namespace Kettle.Orleans.Tests;

/// <summary>The job assembly's methods: what the test silos are allowed to run (this test assembly is registered).</summary>
public static class Jobs
{
    private static int running;
    private static int maxRunning;

    /// <summary>Tokens of calls that saw their cancellation, by tag.</summary>
    public static ConcurrentDictionary<string, bool> Cancelled { get; } = new();

    /// <summary>Tags of calls that started.</summary>
    public static ConcurrentDictionary<string, bool> Started { get; } = new();

    public static int MaxRunning => Volatile.Read(ref maxRunning);

    public static Int128 SumOfSquares(int n)
    {
        Int128 total = 0;
        for (long i = 0; i < n; i++)
        {
            total += (Int128)(i * i);
        }
        return total;
    }

    public static long Square(long x) => x * x;

    public static int Add(int a, int b) => a + b;

    public static string Greet(string name) => $"hello {name}";

    public static Point Move(Point p, int dx) => p with { X = p.X + dx };

    public static int Fail(string message) => throw new InvalidOperationException(message, new ArgumentException("inner cause"));

    /// <summary>Counts how many calls run at once, for a while.</summary>
    public static int Concurrent(int id)
    {
        int now = Interlocked.Increment(ref running);
        int seen;
        while ((seen = Volatile.Read(ref maxRunning)) < now && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen)
        {
        }
        Thread.SpinWait(20_000);
        Interlocked.Decrement(ref running);
        return id;
    }

    public static void ResetConcurrency()
    {
        Volatile.Write(ref maxRunning, 0);
    }

    /// <summary>Runs until its token is cancelled (at most 60 s), and records that it saw the cancellation.</summary>
    public static int UntilCancelled(string tag, CancellationToken cancellationToken)
    {
        Started[tag] = true;
        if (cancellationToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(60)))
        {
            Cancelled[tag] = true;
            cancellationToken.ThrowIfCancellationRequested();
        }
        return -1;
    }

    /// <summary>Opened by the tests to let <see cref="Stubborn"/> calls end.</summary>
    public static ManualResetEventSlim StubbornGate { get; } = new();

    /// <summary>Ignores cancellation: runs until <see cref="StubbornGate"/> opens (at most 60 s); returns the tag's length.</summary>
    public static int Stubborn(string tag)
    {
        Started[tag] = true;
        StubbornGate.Wait(TimeSpan.FromSeconds(60));
        return tag.Length;
    }

    /// <summary>Opened by the tests to let <see cref="Hold"/> calls end.</summary>
    public static ManualResetEventSlim HoldGate { get; } = new();

    /// <summary>Tags of <see cref="Hold"/> calls running now.</summary>
    public static ConcurrentDictionary<string, bool> Holding { get; } = new();

    /// <summary>
    /// Runs until <see cref="HoldGate"/> opens or its token is cancelled (at most 60 s), listed in <see cref="Holding"/>
    /// meanwhile; returns its tag, or throws if cancelled.
    /// </summary>
    public static string Hold(string tag, CancellationToken cancellationToken)
    {
        Holding[tag] = true;
        try
        {
            WaitHandle.WaitAny([HoldGate.WaitHandle, cancellationToken.WaitHandle], TimeSpan.FromSeconds(60));
            cancellationToken.ThrowIfCancellationRequested();
            return tag;
        }
        finally
        {
            Holding.TryRemove(tag, out _);
        }
    }

    /// <summary>Works for <paramref name="milliseconds"/>, stopping early if cancelled; returns its input.</summary>
    public static int Work(int id, int milliseconds, CancellationToken cancellationToken)
    {
        cancellationToken.WaitHandle.WaitOne(milliseconds);
        cancellationToken.ThrowIfCancellationRequested();
        return id;
    }

    /// <summary>Same as <see cref="Work"/>; the tests list this one as idempotent.</summary>
    public static int IdempotentWork(int id, int milliseconds, CancellationToken cancellationToken)
    {
        cancellationToken.WaitHandle.WaitOne(milliseconds);
        cancellationToken.ThrowIfCancellationRequested();
        return id;
    }
}

public sealed record Point(int X, int Y);
