"Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without the quarto it needs and this machine lacks)."
import json, sys
from pathlib import Path

def readme(nb_path='nbs/index.ipynb') -> str:
    parts = []
    for cell in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(cell['source']).strip()
        if not src or src.startswith('#| hide'): continue
        if cell['cell_type'] == 'markdown': parts.append(src.replace('](images/', '](nbs/images/'))  # links from the root
        elif '#| echo: false' in src.splitlines():  # what it renders, not its code: a sentence computed from results
            rendered = [''.join(o['data']['text/markdown']).strip() for o in cell.get('outputs', [])
                        if 'text/markdown' in o.get('data', {})]
            if not rendered: sys.exit(f"{nb_path}: an echo: false cell has no markdown output: execute the notebook")
            parts += rendered
        else: parts.append('```python\n' + src + '\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text = readme()
    if '--check' in sys.argv:
        if Path('README.md').read_text() != text: sys.exit('README.md is out of date: run python .ci/readme.py')
    else: Path('README.md').write_text(text)
