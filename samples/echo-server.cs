#:project ../src/Kettle/Kettle.csproj
// Streams: an echo server and a few clients on one loop (asyncio's start_server / open_connection).
// Each connection's handler runs as a named task; closing the server waits for the handlers.
using System.Diagnostics;
using System.Text;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine HandleEcho(AioStreamReader reader, AioStreamWriter writer)
{
    Console.WriteLine($"server: {Aio.CurrentTask!.Name} connected");
    while (true)
    {
        byte[] line = await reader.ReadLine();
        if (line.Length == 0)
        {
            break; // the client closed its side
        }
        writer.Write(line);
        await writer.Drain();
    }
    Console.WriteLine($"server: {Aio.CurrentTask!.Name} done");
}

static async Coroutine<int> Client(int port, int id)
{
    var (reader, writer) = await Aio.OpenConnection("127.0.0.1", port);
    int roundTrips = 0;
    foreach (var word in new[] { "hello", "from", $"client-{id}" })
    {
        writer.Write(Encoding.UTF8.GetBytes(word + "\n"));
        await writer.Drain();
        string echoed = Encoding.UTF8.GetString(await reader.ReadLine()).TrimEnd('\n');
        Console.WriteLine($"client {id}: sent {word,-9} got back {echoed}");
        roundTrips++;
    }
    writer.Close();
    await writer.WaitClosed();
    return roundTrips;
}

static async Coroutine Main()
{
    var server = await Aio.StartServer(HandleEcho, "127.0.0.1", 0);
    Console.WriteLine($"serving on 127.0.0.1:{server.Port}");

    int[] trips = await Aio.Gather(Client(server.Port, 1), Client(server.Port, 2), Client(server.Port, 3));

    server.Close();         // stop accepting
    await server.WaitClosed(); // and wait for every handler to end
    Console.WriteLine($"{trips.Sum()} round trips, server closed cleanly");
}
