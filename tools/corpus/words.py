"""The closed bilingual vocabulary of the invented world: every word has an English and a Chinese form.

Lists are tuples in a fixed order (never sets), so that every draw from them is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    """A countable thing: English singular/plural, Chinese word and its measure word (个, 只, 本...)."""

    en: str
    zh: str
    measure: str = "个"
    plural: str = ""

    @property
    def pl(self) -> str:
        return self.plural or self.en + "s"


@dataclass(frozen=True)
class Animal:
    en: str
    zh: str
    measure: str
    legs: int
    sound_en: str  # third person verb ("meows"); empty when the animal has no familiar sound
    sound_zh: str
    home_en: str  # "in houses"
    home_zh: str  # "房子里"
    can_en: str  # "climb trees"
    can_zh: str  # "会爬树"
    plural: str = ""

    @property
    def pl(self) -> str:
        return self.plural or self.en + "s"


@dataclass(frozen=True)
class Place:
    en: str
    zh: str
    prep: str = "at"  # "at the market", "in the park", "on the hill"


@dataclass(frozen=True)
class Job:
    en: str
    zh: str
    place: Place
    does: str  # third person: "bakes bread"
    do: str  # base form: "bake bread"
    zh_does: str  # "烤面包"
    plural: str = ""

    @property
    def pl(self) -> str:
        return self.plural or self.en + "s"


@dataclass(frozen=True)
class Word:
    """A plain English/Chinese pair: colours, adjectives, days, rivers."""

    en: str
    zh: str


@dataclass(frozen=True)
class Activity:
    base: str  # "fly kites"
    past: str  # "flew kites"
    ing: str  # "flying kites"
    zh: str  # "放风筝"


@dataclass(frozen=True)
class Weather:
    key: str
    adj: str  # "The day was sunny."
    en: str  # a sentence
    zh: str  # a sentence
    zh_adj: str  # "天气很晴朗"


def _animal(en: str, zh: str, measure: str, legs: int, sound: tuple[str, str], home: tuple[str, str],
            can: tuple[str, str], plural: str = "") -> Animal:
    # "跑得很快" already reads as a predicate; other abilities take 会: "猫会爬树".
    can_zh = can[1] if can[1][1:2] == "得" else "会" + can[1]
    return Animal(en, zh, measure, legs, sound[0], sound[1], home[0], home[1], can[0], can_zh, plural)


_HOUSE = ("in houses", "房子里")
_FARM = ("on farms", "农场里")
_FOREST = ("in the forest", "森林里")
_TREES = ("in trees", "树上")
_POND = ("on ponds", "池塘里")
_RIVER = ("in rivers", "河里")
_PLAINS = ("on wide plains", "草原上")
_GARDEN = ("in gardens", "花园里")
_QUIET = ("", "")

ANIMALS: tuple[Animal, ...] = (
    _animal("cat", "猫", "只", 4, ("meows", "喵喵叫"), _HOUSE, ("climb trees", "爬树")),
    _animal("dog", "狗", "条", 4, ("barks", "汪汪叫"), _HOUSE, ("run fast", "跑得很快")),
    _animal("rabbit", "兔子", "只", 4, _QUIET, ("in burrows", "地洞里"), ("jump high", "跳得很高")),
    _animal("horse", "马", "匹", 4, ("neighs", "咴咴叫"), ("in stables", "马厩里"), ("run fast", "跑得很快")),
    _animal("cow", "奶牛", "头", 4, ("moos", "哞哞叫"), _FARM, ("give milk", "产牛奶")),
    _animal("sheep", "绵羊", "只", 4, ("baas", "咩咩叫"), _FARM, ("grow thick wool", "长出厚厚的羊毛"),
            "sheep"),
    _animal("pig", "猪", "头", 4, ("oinks", "哼哼叫"), _FARM, ("roll in the mud", "在泥里打滚")),
    _animal("duck", "鸭子", "只", 2, ("quacks", "嘎嘎叫"), _POND, ("swim", "游泳")),
    _animal("goose", "鹅", "只", 2, ("honks", "嘎嘎叫"), _POND, ("swim", "游泳"), "geese"),
    _animal("hen", "母鸡", "只", 2, ("clucks", "咯咯叫"), _FARM, ("lay eggs", "下蛋")),
    _animal("fox", "狐狸", "只", 4, _QUIET, _FOREST, ("run fast", "跑得很快"), "foxes"),
    _animal("owl", "猫头鹰", "只", 2, ("hoots", "咕咕叫"), _TREES, ("see in the dark", "在黑暗中看清东西")),
    _animal("frog", "青蛙", "只", 4, ("croaks", "呱呱叫"), ("by ponds", "池塘边"), ("jump far", "跳得很远")),
    _animal("goldfish", "金鱼", "条", 0, _QUIET, ("in bowls of water", "鱼缸里"), ("swim", "游泳"),
            "goldfish"),
    _animal("robin", "知更鸟", "只", 2, ("sings", "唱歌"), _TREES, ("fly", "飞")),
    _animal("bear", "熊", "头", 4, ("growls", "吼叫"), _FOREST, ("climb trees", "爬树")),
    _animal("deer", "鹿", "头", 4, _QUIET, _FOREST, ("run fast", "跑得很快"), "deer"),
    _animal("goat", "山羊", "只", 4, ("bleats", "咩咩叫"), ("on hills", "山坡上"), ("climb rocks", "爬岩石")),
    _animal("mouse", "老鼠", "只", 4, ("squeaks", "吱吱叫"), ("in small holes", "小洞里"),
            ("hide in small places", "躲在小地方"), "mice"),
    _animal("squirrel", "松鼠", "只", 4, _QUIET, _TREES, ("climb trees", "爬树")),
    _animal("turtle", "乌龟", "只", 4, _QUIET, _POND, ("swim", "游泳")),
    _animal("bee", "蜜蜂", "只", 6, ("buzzes", "嗡嗡叫"), ("in hives", "蜂巢里"), ("make honey", "酿蜂蜜")),
    _animal("butterfly", "蝴蝶", "只", 6, _QUIET, _GARDEN, ("fly", "飞"), "butterflies"),
    _animal("parrot", "鹦鹉", "只", 2, ("squawks", "叽叽喳喳地叫"), _TREES, ("copy words", "学人说话")),
    _animal("hedgehog", "刺猬", "只", 4, _QUIET, _GARDEN, ("roll into a ball", "缩成一个球")),
    _animal("swan", "天鹅", "只", 2, _QUIET, ("on lakes", "湖上"), ("swim", "游泳")),
    _animal("donkey", "驴", "头", 4, ("brays", "昂昂叫"), _FARM, ("carry heavy bags", "驮很重的袋子")),
    _animal("panda", "熊猫", "只", 4, _QUIET, ("in bamboo forests", "竹林里"), ("eat bamboo", "吃竹子")),
    _animal("crow", "乌鸦", "只", 2, ("caws", "呱呱叫"), _TREES, ("fly", "飞")),
    _animal("tiger", "老虎", "只", 4, ("roars", "吼叫"), ("in the jungle", "丛林里"), ("swim", "游泳")),
    _animal("lion", "狮子", "头", 4, ("roars", "吼叫"), _PLAINS, ("run fast", "跑得很快")),
    _animal("elephant", "大象", "头", 4, _QUIET, _PLAINS, ("carry logs", "搬木头")),
    _animal("wolf", "狼", "只", 4, ("howls", "嚎叫"), _FOREST, ("run far", "跑很远"), "wolves"),
    _animal("snail", "蜗牛", "只", 0, _QUIET, _GARDEN, ("carry their houses", "背着自己的房子")),
    _animal("ant", "蚂蚁", "只", 6, _QUIET, ("under the ground", "地下"),
            ("carry heavy things", "搬很重的东西")),
    _animal("pigeon", "鸽子", "只", 2, ("coos", "咕咕叫"), ("in towns", "城镇里"), ("fly home", "飞回家")),
    _animal("spider", "蜘蛛", "只", 8, _QUIET, ("in quiet corners", "角落里"), ("make webs", "织网")),
    _animal("hamster", "仓鼠", "只", 4, ("squeaks", "吱吱叫"), _HOUSE, ("run on a wheel", "在轮子上跑")),
    _animal("pony", "小马", "匹", 4, ("neighs", "咴咴叫"), ("in stables", "马厩里"), ("run fast", "跑得很快"),
            "ponies"),
    _animal("canary", "金丝雀", "只", 2, ("sings", "唱歌"), _HOUSE, ("sing", "唱歌"), "canaries"),
    _animal("otter", "水獭", "只", 4, _QUIET, _RIVER, ("swim", "游泳")),
    _animal("camel", "骆驼", "头", 4, _QUIET, ("in deserts", "沙漠里"),
            ("walk for days without water", "很多天不喝水")),
    _animal("zebra", "斑马", "匹", 4, _QUIET, _PLAINS, ("run fast", "跑得很快")),
    _animal("eagle", "老鹰", "只", 2, _QUIET, ("on high mountains", "高山上"), ("fly high", "飞得很高")),
    _animal("bat", "蝙蝠", "只", 2, _QUIET, ("in caves", "山洞里"), ("fly at night", "在夜里飞")),
    _animal("beaver", "河狸", "只", 4, _QUIET, _RIVER, ("build dams", "筑水坝")),
    _animal("whale", "鲸鱼", "头", 0, ("sings", "唱歌"), ("in the sea", "大海里"), ("swim", "游泳")),
    _animal("peacock", "孔雀", "只", 2, _QUIET, _GARDEN, ("open their bright tails", "展开漂亮的尾巴")),
)
PET_NAMES = ("cat", "dog", "rabbit", "duck", "hen", "goldfish", "turtle", "parrot", "hedgehog", "hamster",
             "pony", "canary")

FRUITS: tuple[Noun, ...] = (
    Noun("apple", "苹果"), Noun("pear", "梨"), Noun("orange", "橙子"), Noun("banana", "香蕉", "根"),
    Noun("peach", "桃子", plural="peaches"), Noun("plum", "李子"), Noun("lemon", "柠檬"),
    Noun("mango", "芒果", plural="mangoes"), Noun("strawberry", "草莓", "颗", "strawberries"),
    Noun("cherry", "樱桃", "颗", "cherries"), Noun("melon", "甜瓜"), Noun("watermelon", "西瓜"),
    Noun("fig", "无花果"), Noun("apricot", "杏子"),
)
VEGETABLES: tuple[Noun, ...] = (
    Noun("carrot", "胡萝卜", "根"), Noun("potato", "土豆", plural="potatoes"),
    Noun("tomato", "西红柿", plural="tomatoes"), Noun("onion", "洋葱"), Noun("cucumber", "黄瓜", "根"),
    Noun("pumpkin", "南瓜"), Noun("cabbage", "卷心菜", "颗"), Noun("radish", "萝卜", "根", "radishes"),
)
SNACKS: tuple[Noun, ...] = (
    Noun("cookie", "饼干", "块"), Noun("cake", "蛋糕", "块"), Noun("bun", "包子"), Noun("pie", "馅饼"),
    Noun("muffin", "松饼"), Noun("dumpling", "饺子"), Noun("egg", "鸡蛋"),
    Noun("candy", "糖果", "颗", "candies"), Noun("doughnut", "甜甜圈"), Noun("pancake", "薄饼", "张"),
    Noun("sandwich", "三明治", plural="sandwiches"), Noun("walnut", "核桃"), Noun("rice cake", "年糕", "块"),
    Noun("cupcake", "纸杯蛋糕"),
)
FOODS = FRUITS + VEGETABLES + SNACKS
MEALS: tuple[Word, ...] = (
    Word("porridge", "粥"), Word("bread", "面包"), Word("eggs", "鸡蛋"), Word("noodles", "面条"),
    Word("rice", "米饭"), Word("yogurt", "酸奶"), Word("soup", "汤"), Word("cheese", "奶酪"),
)
DRINKS: tuple[Word, ...] = (
    Word("tea", "茶"), Word("milk", "牛奶"), Word("juice", "果汁"), Word("water", "水"), Word("cocoa", "可可"),
)

OBJECTS: tuple[Noun, ...] = (
    Noun("hat", "帽子", "顶"), Noun("scarf", "围巾", "条", "scarves"), Noun("key", "钥匙", "把"),
    Noun("ball", "球"), Noun("kite", "风筝", "只"), Noun("book", "书", "本"), Noun("ring", "戒指", "枚"),
    Noun("glove", "手套", "只"), Noun("coat", "外套", "件"), Noun("bag", "包"), Noun("umbrella", "雨伞", "把"),
    Noun("map", "地图", "张"), Noun("letter", "信", "封"), Noun("bell", "铃铛"), Noun("whistle", "哨子"),
    Noun("cup", "杯子"), Noun("basket", "篮子"), Noun("shoe", "鞋", "只"), Noun("toy boat", "玩具船", "只"),
    Noun("pencil", "铅笔", "支"), Noun("drum", "鼓", "面"), Noun("flute", "笛子", "支"),
    Noun("lamp", "灯", "盏"), Noun("box", "盒子", plural="boxes"), Noun("spoon", "勺子", "把"),
    Noun("wallet", "钱包"), Noun("watch", "手表", "块", "watches"), Noun("necklace", "项链", "条"),
    Noun("bucket", "水桶"), Noun("ladder", "梯子", "架"), Noun("candle", "蜡烛", "根"), Noun("clock", "钟"),
    Noun("mirror", "镜子", "面"), Noun("pillow", "枕头"), Noun("blanket", "毯子", "条"), Noun("bowl", "碗"),
    Noun("plate", "盘子"), Noun("bottle", "瓶子"), Noun("shell", "贝壳"), Noun("feather", "羽毛", "根"),
    Noun("button", "纽扣", "颗"), Noun("sock", "袜子", "只"), Noun("rope", "绳子", "根"),
    Noun("hammer", "锤子", "把"), Noun("brush", "刷子", "把", "brushes"), Noun("notebook", "笔记本", "本"),
    Noun("bicycle", "自行车", "辆"), Noun("chair", "椅子", "把"), Noun("table", "桌子", "张"),
    Noun("jar", "罐子"), Noun("flag", "旗子", "面"),
)
# Small things a person can carry, lose, find or give as a present.
SMALL_THINGS = ("hat", "scarf", "key", "ball", "kite", "book", "ring", "glove", "bag", "map", "bell",
                "whistle", "cup", "toy boat", "pencil", "flute", "spoon", "wallet", "watch", "necklace",
                "notebook", "shell", "feather", "button")

_MARKET = Place("market", "市场")
_SCHOOL = Place("school", "学校")
_HOSPITAL = Place("hospital", "医院")
_HARBOUR = Place("harbour", "港口")
_LIBRARY = Place("library", "图书馆")
_BAKERY = Place("bakery", "面包店")
_FARMPLACE = Place("farm", "农场", "on")
_GARDENPLACE = Place("garden", "花园", "in")
_MILL = Place("mill", "磨坊")
_POST = Place("post office", "邮局")
_STATION = Place("station", "车站")
_ORCHARD = Place("orchard", "果园", "in")
_HILL = Place("hill", "山坡上", "on")
_BOOKSHOP = Place("bookshop", "书店")
_TOYSHOP = Place("toy shop", "玩具店")
_FLOWERSHOP = Place("flower shop", "花店")
_THEATRE = Place("theatre", "剧院")

PLACES: tuple[Place, ...] = (
    _MARKET, _BAKERY, _LIBRARY, Place("park", "公园", "in"), _SCHOOL, _FARMPLACE, _MILL, _HARBOUR,
    _GARDENPLACE, _POST, Place("tea house", "茶馆"), _TOYSHOP, _BOOKSHOP, Place("fish shop", "鱼店"),
    _FLOWERSHOP, Place("town square", "广场", "in"), _STATION, Place("forest", "森林", "in"), _HILL,
    Place("lake", "湖边", "by"), Place("meadow", "草地", "in"), _ORCHARD, Place("museum", "博物馆"),
    Place("cafe", "咖啡馆"), Place("bridge", "桥边", "on"), Place("playground", "游乐场"),
    Place("pond", "池塘边", "by"), Place("beach", "海滩", "on"), _THEATRE, Place("bus stop", "公交车站"),
)

JOBS: tuple[Job, ...] = (
    Job("baker", "面包师", _BAKERY, "bakes bread", "bake bread", "烤面包"),
    Job("farmer", "农民", _FARMPLACE, "grows vegetables", "grow vegetables", "种蔬菜"),
    Job("teacher", "老师", _SCHOOL, "teaches children", "teach children", "教孩子们读书"),
    Job("doctor", "医生", _HOSPITAL, "helps sick people", "help sick people", "帮助生病的人"),
    Job("fisherman", "渔夫", _HARBOUR, "catches fish", "catch fish", "捕鱼", "fishermen"),
    Job("painter", "画家", Place("studio", "画室"), "paints pictures", "paint pictures", "画画"),
    Job("tailor", "裁缝", Place("tailor shop", "裁缝店"), "makes clothes", "make clothes", "做衣服"),
    Job("carpenter", "木匠", Place("workshop", "木工房"), "makes tables and chairs", "make tables and chairs",
        "做桌子和椅子"),
    Job("nurse", "护士", _HOSPITAL, "looks after sick people", "look after sick people", "照顾病人"),
    Job("cook", "厨师", Place("restaurant", "饭馆"), "cooks meals", "cook meals", "做饭菜"),
    Job("gardener", "园丁", _GARDENPLACE, "looks after flowers", "look after flowers", "照看花草"),
    Job("potter", "陶匠", Place("pottery", "陶器坊"), "makes cups and bowls", "make cups and bowls",
        "做杯子和碗"),
    Job("miller", "磨坊主", _MILL, "makes flour", "make flour", "磨面粉"),
    Job("mail carrier", "邮递员", _POST, "delivers letters", "deliver letters", "送信"),
    Job("bus driver", "公交车司机", _STATION, "drives the bus", "drive the bus", "开公交车"),
    Job("singer", "歌手", _THEATRE, "sings songs", "sing songs", "唱歌"),
    Job("librarian", "图书管理员", _LIBRARY, "looks after books", "look after books", "管理图书"),
    Job("blacksmith", "铁匠", Place("forge", "铁匠铺"), "makes tools", "make tools", "打造工具"),
    Job("shepherd", "牧羊人", _HILL, "looks after sheep", "look after sheep", "放羊"),
    Job("beekeeper", "养蜂人", _ORCHARD, "keeps bees", "keep bees", "养蜜蜂"),
    Job("musician", "音乐家", Place("music hall", "音乐厅"), "plays music", "play music", "演奏音乐"),
    Job("sailor", "水手", _HARBOUR, "sails boats", "sail boats", "开船"),
    Job("clockmaker", "钟表匠", Place("clock shop", "钟表店"), "fixes clocks", "fix clocks", "修钟表"),
    Job("weaver", "织工", Place("weaving shop", "织布坊"), "weaves cloth", "weave cloth", "织布"),
    Job("barber", "理发师", Place("barber shop", "理发店"), "cuts hair", "cut hair", "理发"),
    Job("dentist", "牙医", Place("clinic", "诊所"), "looks after teeth", "look after teeth", "看牙齿"),
    Job("vet", "兽医", Place("animal clinic", "动物诊所"), "helps sick animals", "help sick animals",
        "给生病的动物看病"),
    Job("florist", "花店老板", _FLOWERSHOP, "sells flowers", "sell flowers", "卖花"),
    Job("grocer", "杂货商", Place("grocery", "杂货店"), "sells fruit and vegetables",
        "sell fruit and vegetables", "卖水果和蔬菜"),
    Job("builder", "建筑工人", Place("building site", "工地"), "builds houses", "build houses", "盖房子"),
    Job("bookseller", "书商", _BOOKSHOP, "sells books", "sell books", "卖书"),
    Job("toymaker", "玩具匠", _TOYSHOP, "makes toys", "make toys", "做玩具"),
)
# Jobs whose owners can mend a broken object, with the objects they mend.
FIXERS = {"carpenter": ("chair", "table", "ladder", "box", "toy boat"),
          "clockmaker": ("clock", "watch"),
          "blacksmith": ("hammer", "key", "bell", "bucket"),
          "tailor": ("coat", "scarf", "hat", "bag", "glove")}

COLOURS: tuple[Word, ...] = (
    Word("red", "红色"), Word("blue", "蓝色"), Word("green", "绿色"), Word("yellow", "黄色"),
    Word("white", "白色"), Word("black", "黑色"), Word("brown", "棕色"), Word("orange", "橙色"),
    Word("pink", "粉色"), Word("purple", "紫色"), Word("grey", "灰色"), Word("gold", "金色"),
)
MOODS: tuple[Word, ...] = (
    Word("happy", "高兴"), Word("sad", "难过"), Word("tired", "累"), Word("hungry", "饿"),
    Word("excited", "兴奋"), Word("worried", "担心"), Word("surprised", "惊讶"), Word("calm", "平静"),
    Word("proud", "自豪"), Word("sleepy", "困"), Word("lonely", "孤单"), Word("scared", "害怕"),
    Word("thankful", "感激"), Word("bored", "无聊"),
)
TRAITS: tuple[Word, ...] = (
    Word("kind", "善良"), Word("brave", "勇敢"), Word("clever", "聪明"), Word("patient", "耐心"),
    Word("cheerful", "开朗"), Word("careful", "细心"), Word("curious", "好奇"), Word("gentle", "温柔"),
    Word("funny", "幽默"), Word("friendly", "友好"), Word("quiet", "安静"), Word("hard-working", "勤劳"),
    Word("polite", "有礼貌"), Word("honest", "诚实"), Word("generous", "大方"), Word("calm", "冷静"),
)
TOWN_ADJECTIVES: tuple[Word, ...] = (
    Word("small", "小巧"), Word("quiet", "安静"), Word("busy", "热闹"), Word("pretty", "漂亮"),
    Word("old", "古老"), Word("green", "绿意盎然"), Word("sunny", "阳光充足"), Word("peaceful", "宁静"),
)
OPPOSITES: tuple[tuple[Word, Word], ...] = (
    (Word("big", "大"), Word("small", "小")), (Word("hot", "热"), Word("cold", "冷")),
    (Word("tall", "高"), Word("short", "矮")), (Word("happy", "高兴"), Word("sad", "难过")),
    (Word("fast", "快"), Word("slow", "慢")), (Word("old", "旧"), Word("new", "新")),
    (Word("heavy", "重"), Word("light", "轻")), (Word("full", "满"), Word("empty", "空")),
    (Word("wet", "湿"), Word("dry", "干")), (Word("early", "早"), Word("late", "晚")),
    (Word("clean", "干净"), Word("dirty", "脏")), (Word("hard", "硬"), Word("soft", "软")),
    (Word("near", "近"), Word("far", "远")), (Word("thick", "厚"), Word("thin", "薄")),
    (Word("strong", "强壮"), Word("weak", "虚弱")), (Word("up", "上"), Word("down", "下")),
    (Word("day", "白天"), Word("night", "夜晚")), (Word("rich", "富有"), Word("poor", "贫穷")),
    (Word("left", "左"), Word("right", "右")), (Word("open", "开"), Word("closed", "关")),
)

ACTIVITIES: tuple[Activity, ...] = (
    Activity("sing songs", "sang songs", "singing songs", "唱歌"),
    Activity("read books", "read books", "reading books", "看书"),
    Activity("paint pictures", "painted pictures", "painting pictures", "画画"),
    Activity("play the flute", "played the flute", "playing the flute", "吹笛子"),
    Activity("swim in the river", "swam in the river", "swimming in the river", "在河里游泳"),
    Activity("fly kites", "flew kites", "flying kites", "放风筝"),
    Activity("ride a bicycle", "rode a bicycle", "riding a bicycle", "骑自行车"),
    Activity("go fishing", "went fishing", "going fishing", "钓鱼"),
    Activity("dance", "danced", "dancing", "跳舞"),
    Activity("grow flowers", "grew flowers", "growing flowers", "种花"),
    Activity("play chess", "played chess", "playing chess", "下棋"),
    Activity("write letters", "wrote letters", "writing letters", "写信"),
    Activity("climb hills", "climbed hills", "climbing hills", "爬山"),
    Activity("bake cakes", "baked cakes", "baking cakes", "烤蛋糕"),
    Activity("tell stories", "told stories", "telling stories", "讲故事"),
    Activity("play football", "played football", "playing football", "踢足球"),
    Activity("knit scarves", "knitted scarves", "knitting scarves", "织围巾"),
    Activity("watch birds", "watched birds", "watching birds", "看鸟"),
    Activity("collect shells", "collected shells", "collecting shells", "收集贝壳"),
    Activity("play the drum", "played the drum", "playing the drum", "打鼓"),
    Activity("draw maps", "drew maps", "drawing maps", "画地图"),
    Activity("pick berries", "picked berries", "picking berries", "摘浆果"),
    Activity("walk in the forest", "walked in the forest", "walking in the forest", "在森林里散步"),
    Activity("cook soup", "cooked soup", "cooking soup", "煮汤"),
)

WEATHERS: tuple[Weather, ...] = (
    Weather("sunny", "sunny", "The sun was shining in a clear blue sky.", "阳光很好,天空很蓝。",
            "天气很晴朗"),
    Weather("rainy", "rainy", "Soft rain was falling on the roofs.", "细细的雨落在屋顶上。", "下着雨"),
    Weather("windy", "windy", "A strong wind was blowing through the streets.", "大风吹过街道。", "风很大"),
    Weather("cloudy", "cloudy", "Grey clouds covered the sky.", "灰色的云盖住了天空。", "天上有很多云"),
    Weather("snowy", "snowy", "White snow was falling everywhere.", "到处都在下白白的雪。", "下着雪"),
    Weather("foggy", "foggy", "A thick fog lay over the town.", "浓浓的雾笼罩着小镇。", "雾很大"),
    Weather("warm", "warm", "The air was warm and soft.", "空气温暖又柔和。", "天气很暖和"),
    Weather("cold", "cold", "The air was cold, and everyone wore a coat.", "空气很冷,大家都穿着外套。",
            "天气很冷"),
)
DAYS: tuple[Word, ...] = (
    Word("Monday", "星期一"), Word("Tuesday", "星期二"), Word("Wednesday", "星期三"),
    Word("Thursday", "星期四"),
    Word("Friday", "星期五"), Word("Saturday", "星期六"), Word("Sunday", "星期天"),
)
TIMES: tuple[Word, ...] = (Word("morning", "早上"), Word("afternoon", "下午"), Word("evening", "傍晚"))
SEASONS: tuple[tuple[Word, tuple[tuple[str, str], ...]], ...] = (
    (Word("spring", "春天"), (("flowers open in the gardens", "花园里的花都开了"),
                             ("the trees turn green", "树木变绿了"),
                             ("farmers plant seeds in the fields", "农民在田里播种"))),
    (Word("summer", "夏天"), (("the days are long and hot", "白天又长又热"),
                             ("children swim in the river", "孩子们在河里游泳"),
                             ("people eat cold watermelon", "人们吃凉凉的西瓜"))),
    (Word("autumn", "秋天"), (("the leaves turn yellow and fall", "树叶变黄落下"),
                             ("farmers pick apples in the orchards", "农民在果园里摘苹果"),
                             ("the wind becomes cool", "风变得凉爽"))),
    (Word("winter", "冬天"), (("snow covers the roofs", "雪盖住了屋顶"),
                             ("the river is very cold", "河水非常冷"),
                             ("people wear warm coats and scarves", "人们穿上暖和的外套,戴上围巾"))),
)
TREES: tuple[Word, ...] = (
    Word("oak", "橡树"), Word("pine", "松树"), Word("maple", "枫树"), Word("willow", "柳树"),
    Word("birch", "白桦树"), Word("apple", "苹果树"), Word("cherry", "樱桃树"), Word("elm", "榆树"),
    Word("cedar", "雪松"), Word("plum", "李子树"),
)
FLOWERS: tuple[Noun, ...] = (
    Noun("rose", "玫瑰", "朵"), Noun("tulip", "郁金香", "朵"), Noun("daisy", "雏菊", "朵", "daisies"),
    Noun("sunflower", "向日葵", "朵"), Noun("lily", "百合", "朵", "lilies"), Noun("violet", "紫罗兰", "朵"),
    Noun("poppy", "虞美人", "朵", "poppies"), Noun("lotus", "荷花", "朵", "lotuses"),
)
SPOTS: tuple[Word, ...] = (
    Word("under a bench", "长椅下面"), Word("behind a big tree", "一棵大树后面"),
    Word("next to the door", "门旁边"), Word("in the tall grass", "高高的草丛里"),
    Word("beside a large stone", "一块大石头旁边"), Word("under a table", "一张桌子下面"),
    Word("inside an old basket", "一个旧篮子里"), Word("near the well", "水井旁边"),
)
