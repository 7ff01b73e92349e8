#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Async Context Managers". `await using` is C#'s `async with`: DisposeAsync always runs.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine Main()
{
    await using var conn = await AsyncConnection.OpenAsync();
    var result = await conn.Query("SELECT * FROM users");
    Console.WriteLine(result);
}

sealed class AsyncConnection : IAsyncDisposable
{
    private AsyncConnection()
    {
    }

    // __aenter__: an asynchronous handshake.
    public static async Coroutine<AsyncConnection> OpenAsync()
    {
        Console.WriteLine("Opening connection...");
        await Aio.Sleep(0.5); // simulate handshake
        return new AsyncConnection();
    }

    public async Coroutine<string> Query(string sql)
    {
        await Aio.Sleep(0.3);
        return $"Results for: {sql}";
    }

    // __aexit__: runs even if the block throws or the task is cancelled.
    public async ValueTask DisposeAsync()
    {
        Console.WriteLine("Closing connection...");
        await Aio.Sleep(0.2); // simulate graceful close
    }
}
