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

    /// <summary>Ignores cancellation: runs until <see cref="StubbornGate"/> opens (at most 60 s).</summary>
    public static int Stubborn(int id)
    {
        Started["stubborn-" + id] = true;
        StubbornGate.Wait(TimeSpan.FromSeconds(60));
        return id;
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
