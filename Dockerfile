FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flexhooks flexhooks
COPY outbound outbound
COPY accounts accounts
COPY endpoints endpoints
COPY deliveries deliveries
COPY api api
COPY dashboard dashboard
COPY portal portal
COPY templates templates
COPY manage.py ./
# collectstatic needs no secrets (the settings ask for them only when a command serves,
# signs or encrypts).
RUN pip install --no-cache-dir . && python manage.py collectstatic --noinput
EXPOSE 8000
