#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Debugging Coroutines / Name your tasks". Named tasks make logs and `kettle ps` readable.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine<string> FetchUserData(int userId)
{
    await Aio.Sleep(0.1 * userId);
    return $"user {userId} as seen by {Aio.CurrentTask!.Name}";
}

static async Coroutine Main()
{
    var tasks = new List<AioTask<string>>();
    foreach (var userId in new[] { 1, 2, 3 })
    {
        tasks.Add(Aio.CreateTask(FetchUserData(userId), name: $"fetch-user-{userId}"));
    }
    var unnamed = Aio.CreateTask(FetchUserData(4));
    foreach (var t in Aio.AllTasks())
    {
        Console.WriteLine($"alive: {t.Name}");
    }
    foreach (var t in tasks)
    {
        Console.WriteLine(await t);
    }
    Console.WriteLine($"{await unnamed} (an unnamed task shows up as Task-N: name yours)");
}
